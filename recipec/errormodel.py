"""The default (theoretical) error model: how much quality a tensor loses when stored as a type.

A type with b bits per weight leaves a relative mean squared error of

    error(type) = 2 ** (-2 * b(type))

with b the type's storage bits per weight (ggml block bytes x 8 / block elements). There is no
family bonus: an earlier version gave K-quants +0.1 bit over same-size IQ and legacy types, and
measurements with the real quantizer and an imatrix contradicted it (IQ4_XS beats Q4_K per byte;
see docs/quality.md and the measured error model, `recipec measure`). The objective the solvers
minimise is sum(weight x error) over the groups, with the weight from resolve (activation energy x
depth).

Tensors without imatrix data (llama-imatrix skips output.weight unless run with --process-output;
token_embd is a row lookup and never has an entry) cannot take their activation energy from the
imatrix. Their importance is a prior relative to the median importance of the tensors that have
data, from KLD probes on a small trained llama (8 layers, hidden 256, vocabulary 4096): output.weight
alone at Q3_K cost ~25x the KLD of a whole attention role (8 matrices of 256x256, half output's
elements) and 7x token_embd's (the same element count), so per element

    output.weight  12.5 x the median importance   (25 x 524,288 / 1,048,576)
    token_embd      1.8 x                         (12.5 / 7)

A measured error file (`compile --errors`) replaces all of this with per-tensor measurements.
"""

from __future__ import annotations

from recipec import ggml

# Importance of tensors the imatrix has no data for, as a multiple of the median importance.
NO_DATA_PRIOR: dict[str, float] = {"output": 12.5, "token_embd": 1.8, "per_layer_token_embd": 1.8}


def theoretical_error(type_name: str) -> float:
    """Relative MSE of TYPE_NAME: 2^(-2 b), b = its storage bits per weight."""
    return 2.0 ** (-2.0 * ggml.bits_per_weight(type_name))


ERROR_TABLE: dict[str, float] = {t: theoretical_error(t) for t in ggml.TYPE_NAMES}


def error(type_name: str, table: dict[str, float] | None = None) -> float:
    """The relative error of TYPE_NAME under TABLE (the default model when None)."""
    return (table or ERROR_TABLE)[type_name]


def no_data_prior(role: str) -> float:
    """The importance multiplier (over the median) of a tensor of ROLE without imatrix data."""
    return NO_DATA_PRIOR.get(role, 1.0)
