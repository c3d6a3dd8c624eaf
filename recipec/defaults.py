"""What a recipe or a measurement gets when it does not say: constants only, importable by any
command's argument parser without loading the stages that use them."""

from __future__ import annotations

# A recipe without `base` / `ladder` (recipec.resolve.settings).
DEFAULT_FTYPE = "Q4_K_M"
DEFAULT_LADDER: tuple[str, ...] = ("Q3_K", "IQ4_XS", "Q4_K", "Q5_K", "Q6_K", "Q8_0")

# `recipec measure` (recipec.measure.run): the types measured, and how rows are sampled.
DEFAULT_TYPES: tuple[str, ...] = DEFAULT_LADDER + ("IQ3_S", "Q2_K")
DEFAULT_ROW_FRACTION = 1 / 32
DEFAULT_MIN_ROWS = 32

# `recipec measure --kld` (recipec.measure.probes).
GRANULARITIES = ("role", "band", "tensor")
DEFAULT_GRANULARITY = "band"
DEFAULT_PROBE_TYPE = "Q3_K"
DEFAULT_HIGH_TYPE = "Q8_0"
DEFAULT_CTX = 512
