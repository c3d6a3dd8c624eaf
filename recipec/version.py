"""The version of recipec (one place; the package and the wheel read it)."""

__version__ = "0.1.0"
