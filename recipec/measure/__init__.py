"""`recipec measure`: the measured error model t²(tensor, type) of one model (recipec.errorfile).

    model ─sample─► sampled copy ─llama-quantize × type─► quantized copies ─dequantize, compare─► ErrorFile

`sample` writes the row-sampled copy, `quantizer` runs the real llama-quantize on it, `compare`
computes energy and t², `run` caches, resumes and assembles the file.

With `--kld TEXT`, `probes` then fits α from KLD probes (recipec.measure.probes): `perplexity`
runs the real llama-perplexity, `splice` builds each probe file from two whole-model
quantizations, `fit` computes α and the leave-one-out check.
"""

from __future__ import annotations

import importlib

# Re-exported lazily (PEP 562), so that the argument parser of `recipec measure` and the light
# submodules load without numpy and gguf.
_EXPORTS = {"DEFAULT_TYPES": "recipec.defaults", "Inputs": "recipec.measure.run", "Options": "recipec.measure.run",
            "load_inputs": "recipec.measure.run", "measure": "recipec.measure.run",
            "write_errors": "recipec.measure.run", "Sampling": "recipec.measure.sample"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
