"""The bench's parameters: the full bench and the smoke bench (the one the test suite runs)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelShape:
    """A llama-architecture decoder."""

    n_layer: int = 8
    n_embd: int = 256
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 768
    n_vocab: int = 4096
    n_ctx: int = 256
    rope_base: float = 10000.0
    norm_eps: float = 1e-5


@dataclass(frozen=True)
class Training:
    """How the weights are obtained: `torch` (AdamW) or `bigram` (closed form, numpy only)."""

    method: str = "torch"
    seed: int = 1234
    steps: int = 320
    batch: int = 16
    lr: float = 3e-3
    warmup: int = 20
    weight_decay: float = 0.1
    threads: int = 2


@dataclass(frozen=True)
class Corpus:
    """Which of the standard library's .py files go where (by a hash of their relative path)."""

    eval_bytes: int = 250_000
    calib_bytes: int = 250_000
    probe_bytes: int = 0  # text for KLD probes (`recipec measure --kld`), disjoint from eval and calib
    train_bytes: int = 0  # 0: everything left
    tokenizer_bytes: int = 4_000_000  # training text the BPE merges are learned on


@dataclass(frozen=True)
class Evaluation:
    """llama.cpp runs: imatrix on calibration text, KLD/PPL on evaluation text."""

    ctx: int = 256
    imatrix_chunks: int = 0  # 0: all
    eval_chunks: int = 0  # 0: all
    threads: int = 2


@dataclass(frozen=True)
class BenchConfig:
    """Everything a run depends on, apart from the code and the llama.cpp build."""

    name: str
    model: ModelShape
    training: Training
    corpus: Corpus
    evaluation: Evaluation
    mixes: tuple[str, ...] = ("Q3_K_M", "IQ4_XS", "Q4_K_M", "Q5_K_M")
    ladder: tuple[str, ...] = (
        "Q2_K", "IQ3_XXS", "IQ3_S", "Q3_K", "IQ4_XS", "Q4_K", "Q5_K", "Q6_K", "Q8_0",
    )
    # recipec variants per size: (solver, pins). Every stock mix keeps output.weight at Q6_K, so
    # the one pin that copies a stock decision is measured too.
    variants: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("optimal", ()), ("greedy", ()), ("optimal", ("output Q6_K",)),
    )
    # Plans from `recipec measure` error files (compile --errors), solver optimal, per size:
    # "t2" the measured weight error alone, "probes" t² × alpha from KLD probes on the probe text
    # at `probe` granularity, "probes-role"/"probes-band"/"probes-tensor" at the one named.
    measured: tuple[str, ...] = ()
    probe: str = "band"  # KLD probe granularity: role, band (role x depth band) or tensor
    probe_chunks: int = 0  # chunks of the probe text each probe evaluates (0: all)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def section(self, *names: str) -> str:
        """Canonical JSON of some fields, for cache keys."""
        data = self.to_dict()
        return json.dumps({n: data[n] for n in names}, sort_keys=True)


FULL = BenchConfig(
    name="full",
    model=ModelShape(),
    training=Training(),
    corpus=Corpus(),
    evaluation=Evaluation(),
)

# The full bench on a better-trained model: the same architecture, 2.5x the steps at half the
# batch (more updates for about the same compute: this small model is far from its critical
# batch size), a probe text carved out of the corpus (disjoint from evaluation and calibration),
# and plans from measured errors. The theoretical default (`recipec optimal`) is the baseline.
LONG = BenchConfig(
    name="long",
    model=ModelShape(),
    training=Training(steps=800, batch=8),
    corpus=Corpus(probe_bytes=250_000),
    evaluation=Evaluation(),
    variants=(("optimal", ()),),
    measured=("t2", "probes", "probes-band", "probes-tensor"),
    probe="role",  # "probes": 9 probes per role; "probes-band": 37 per role × depth band; "probes-tensor": one per tensor
    probe_chunks=96,  # a third of the probe text per probe
)

SMOKE = BenchConfig(
    name="smoke",
    model=ModelShape(n_layer=2, n_embd=256, n_head=4, n_head_kv=2, n_ff=512, n_vocab=512, n_ctx=128),
    training=Training(method="bigram"),
    corpus=Corpus(eval_bytes=30_000, calib_bytes=30_000, train_bytes=1_000_000, tokenizer_bytes=300_000),
    evaluation=Evaluation(ctx=128, imatrix_chunks=40, eval_chunks=40),
    mixes=("Q4_K_M",),
    variants=(("optimal", ()), ("greedy", ())),
    measured=("t2",),
)

CONFIGS = {c.name: c for c in (FULL, LONG, SMOKE)}
