"""The error model: how much quality a tensor loses when stored as a ggml type.

The default model is theoretical (the one ASHQ1 uses): a type with b effective bits per weight
leaves a relative mean squared error of

    error(type) = 2 ** (-2 * b_eff(type))

where b_eff is the type's storage bits per weight (ggml block bytes x 8 / block elements) plus a
small family adjustment: K-quants get +0.1 bit over IQ and legacy types of the same size
(so IQ4_NL -> Q4_K at 4.5 bpw is a free gain, and an IQ type counts slightly below the K type of
equal size). Float types are near-lossless by this formula. The objective the solvers minimise
is sum(weight x error) over the groups, with the weight from resolve (activation energy x depth).

`ERROR_TABLE` is a plain table so that a measured model (per type, e.g. from KL divergence
sweeps) can replace it without touching the solver.
"""

from __future__ import annotations

from recipec import ggml

K_QUANT_BONUS = 0.1  # effective extra bits of a K-quant over a same-size IQ/legacy type


def effective_bits(type_name: str) -> float:
    """Storage bits per weight, plus the K-quant bonus."""
    b = ggml.bits_per_weight(type_name)
    if type_name.endswith("_K"):
        b += K_QUANT_BONUS
    return b


def theoretical_error(type_name: str) -> float:
    """Relative MSE of TYPE_NAME: 2^(-2 b_eff)."""
    return 2.0 ** (-2.0 * effective_bits(type_name))


ERROR_TABLE: dict[str, float] = {t: theoretical_error(t) for t in ggml.TYPE_NAMES}


def error(type_name: str, table: dict[str, float] | None = None) -> float:
    """The relative error of TYPE_NAME under TABLE (the default model when None)."""
    return (table or ERROR_TABLE)[type_name]
