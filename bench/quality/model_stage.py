"""The model stages: corpus → tokenizer → trained weights, each cached by its inputs."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import corpus as corpus_mod
from .cache import Stage, cache_root, stage_key
from .config import BenchConfig
from .tokenizer import Tokenizer
from . import tokenizer as tok_mod


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Prepared:
    """What the llama.cpp stages need: texts, tokenizer, weights and the keys they were made with."""

    split: corpus_mod.Split
    tokenizer: Tokenizer
    weights_path: Path
    train_stats: dict
    key: str


def tokenize_stage(cfg: BenchConfig, split: corpus_mod.Split, root: Path) -> tuple[Tokenizer, Stage]:
    key = stage_key("tokenizer", split.digest(), cfg.section("corpus"), str(cfg.model.n_vocab),
                    code=("corpus.py", "tokenizer.py"))
    st = Stage(root, key)
    if not st.done:
        log(f"tokenizer: learning {cfg.model.n_vocab} tokens")
        d = st.begin()
        tok = Tokenizer(tok_mod.train(split.train_text[: cfg.corpus.tokenizer_bytes], cfg.model.n_vocab))
        tok.save(d / "tokenizer.json")
        np.savez(d / "tokens.npz", train=tok.encode(split.train_text), eval=tok.encode(split.eval_text),
                 calib=tok.encode(split.calib_text))
        st.finish()
    return Tokenizer.load(st.path("tokenizer.json")), st


def prepare(cfg: BenchConfig, root: Path | None = None) -> Prepared:
    """Corpus, tokenizer and trained weights, from the cache when their inputs are unchanged."""
    root = root or cache_root()
    split = corpus_mod.build(cfg.corpus)
    log(f"corpus: eval {len(split.eval_text)} B ({len(split.eval_files)} files), calib {len(split.calib_text)} B, "
        f"train {len(split.train_text)} B")
    tok, tst = tokenize_stage(cfg, split, root)
    code = ("train_torch.py",) if cfg.training.method == "torch" else ("train_bigram.py",)
    key = stage_key("weights", tst.key, cfg.section("model", "training"), code=code)
    st = Stage(root, key)
    if not st.done:
        toks = np.load(tst.path("tokens.npz"))
        d = st.begin()
        if cfg.training.method == "torch":
            from .train_torch import train
        else:
            from .train_bigram import train
        weights, stats = train(toks["train"], toks["eval"], cfg.model, cfg.training, log)
        np.savez(d / "weights.npz", **weights)
        (d / "train.json").write_text(json.dumps(stats, indent=1))
        st.finish()
    stats = json.loads(st.path("train.json").read_text())
    return Prepared(split, tok, st.path("weights.npz"), stats, key)
