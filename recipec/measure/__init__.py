"""`recipec measure`: the measured error model t²(tensor, type) of one model (recipec.errorfile).

    model ─sample─► sampled copy ─llama-quantize × type─► quantized copies ─dequantize, compare─► ErrorFile

`sample` writes the row-sampled copy, `quantizer` runs the real llama-quantize on it, `compare`
computes energy and t², `run` caches, resumes and assembles the file.

With `--kld TEXT`, `probes` then fits α from KLD probes (recipec.measure.probes): `perplexity`
runs the real llama-perplexity, `splice` builds each probe file from two whole-model
quantizations, `fit` computes α and the leave-one-out check.
"""

from recipec.measure.run import DEFAULT_TYPES, Inputs, Options, load_inputs, measure, write_errors
from recipec.measure.sample import Sampling

__all__ = ["DEFAULT_TYPES", "Inputs", "Options", "Sampling", "load_inputs", "measure", "write_errors"]
