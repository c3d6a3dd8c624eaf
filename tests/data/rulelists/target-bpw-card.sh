# Source: the Qwen3.6-35B-A3B target-bpw model card (seed 002), step 4 of its method ("using
# non-standard (forked) LLaMA C++ release b8990"):
llama-quantize --target-bpw 4.5678 --state-file --imatrix imatrix.gguf baseline-model-F16.gguf 12
