"""recipec: a compiler for llama.cpp quantization recipes."""

__version__ = "0.1.0"
