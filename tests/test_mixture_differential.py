"""The mixture model against the real llama-quantize: every tensor's type equal to `--dry-run`'s.

Cases are generated deterministically: every fixture architecture (fixtures.KINDS without the
split copy, plus fixtures.MIXTURE_KINDS: odd and 80-layer llamas, no GQA and GQA 8, 8 and 128
experts, rows of 288, falcon, MLA with attn_kv_b, GLM-4.5's layout with an MTP block, gpt-oss's
sinks and biases), every FTYPE llama-quantize accepts, with and without an imatrix; for each,
the stock run (no option, no rule) and generated runs with --pure, --leave-output-tensor,
--token-embedding-type, --output-tensor-type, --prune-layers and `--tensor-type` rules (role
names, layer prefixes, unanchored captures, types that fall back, have no fallback or need an
imatrix). When the model says the dry run fails (type None), the real one must fail too.
RECIPEC_HEAVY=1 generates five times as many runs.

The dry runs go through a pool of two workers; the whole CI set takes well under a minute.
"""

from __future__ import annotations

import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from recipec import fixtures, ggml
from recipec.loaders import load_model
from recipec.matcher import Rule
from recipec.mixture import QuantizeParams, decide, prune_layers
from recipec.modelinfo import ModelInfo
from tests.test_quantize_e2e import dry_run_types

pytestmark = pytest.mark.llama

KINDS = tuple(k for k in fixtures.KINDS if k != "llama_split") + fixtures.MIXTURE_KINDS
HEAVY = os.environ.get("RECIPEC_HEAVY") == "1"
GENERATED_PER_SETTING = 10 if HEAVY else 2  # generated runs per (kind, FTYPE, imatrix), besides the stock run
# Types for options and rules: common ones often, failing and imatrix-only ones sometimes.
COMMON = ("Q4_K", "Q5_K", "Q6_K", "Q8_0", "IQ4_XS", "Q4_0", "Q5_1", "IQ4_NL", "Q3_K", "Q2_K", "F16")
RARE = ("IQ2_XXS", "IQ3_XXS", "IQ1_S", "IQ2_S", "BF16", "F32", "MXFP4", "Q1_0", "NVFP4", "Q2_0",
        "TQ1_0", "Q8_K", "I8")


@dataclass(frozen=True)
class Case:
    kind: str
    ftype: str
    imatrix: bool
    token_embedding_type: str | None = None
    output_tensor_type: str | None = None
    pure: bool = False
    leave_output: bool = False
    rules: tuple[Rule, ...] = ()
    prune: tuple[int, ...] = ()

    def argv(self, exe: Path, model: Path, imatrix: Path, out: Path) -> list[str]:
        cmd = [str(exe), "--dry-run"] + (["--imatrix", str(imatrix)] if self.imatrix else [])
        for flag, value in (("--token-embedding-type", self.token_embedding_type),
                            ("--output-tensor-type", self.output_tensor_type)):
            if value:
                cmd += [flag, ggml.canonical_type(value).lower()]
        cmd += ["--pure"] * self.pure + ["--leave-output-tensor"] * self.leave_output
        for r in self.rules:
            cmd += ["--tensor-type", f"{r.pattern}={r.type.lower()}"]
        if self.prune:
            cmd += ["--prune-layers", ",".join(map(str, self.prune))]
        return cmd + [str(model), str(out), self.ftype, "1"]

    def params(self) -> QuantizeParams:
        return QuantizeParams(self.ftype, imatrix=self.imatrix, pure=self.pure, leave_output=self.leave_output,
                              token_embedding_type=self.token_embedding_type,
                              output_tensor_type=self.output_tensor_type, rules=self.rules)


def _type(rng: random.Random) -> str:
    return rng.choice(RARE) if rng.random() < 0.25 else rng.choice(COMMON)


def _rule(rng: random.Random, info: ModelInfo) -> Rule:
    """A pattern the way people write them: a role, a family, a layer prefix, an unanchored word."""
    t = rng.choice([t for t in info.tensors if t.name.endswith("weight")])
    blk = f"blk\\.{t.layer}\\." if t.layer is not None else ""
    pattern = rng.choice([t.role, t.role.split("_")[0], f"^{blk}" if blk else "^output", f"{blk}{t.role}",
                          f"^{blk}{t.role}\\.weight$", "exps", "output", "token_embd", "attn_v", "ffn_down",
                          "weight"])
    return Rule(pattern, _type(rng))


def generated(kind: str, info: ModelInfo, ftype: str, imatrix: bool, i: int) -> Case:
    """Run I (0: the stock run) for one kind, FTYPE and imatrix setting; the same on every machine."""
    if i == 0:
        return Case(kind, ftype, imatrix)
    rng = random.Random(f"{kind}/{ftype}/{imatrix}/{i}")
    n_rules = rng.choice((0, 0, 1, 2, 3, 5))
    prune = ()
    if rng.random() < 0.12 and info.block_count > 1:
        prune = tuple(sorted(rng.sample(range(info.block_count), 1 if info.block_count < 4 else rng.choice((1, 2)))))
    return Case(kind, ftype, imatrix,
                token_embedding_type=_type(rng) if rng.random() < 0.3 else None,
                output_tensor_type=_type(rng) if rng.random() < 0.3 else None,
                pure=rng.random() < 0.15, leave_output=rng.random() < 0.15,
                rules=tuple(_rule(rng, info) for _ in range(n_rules)), prune=prune)


def cases_for(kind: str, info: ModelInfo) -> list[Case]:
    return [generated(kind, info, ftype, imatrix, i) for ftype in ggml.FTYPE_NAMES for imatrix in (False, True)
            for i in range(1 + GENERATED_PER_SETTING)]


def _disagreement(case: Case, info: ModelInfo, proc: subprocess.CompletedProcess) -> str | None:
    """None when the model and the real dry run agree, else what differs."""
    outcomes = decide(prune_layers(info, case.prune), case.params())
    failing = [o for o in outcomes if o.type is None]
    if failing:
        return None if proc.returncode != 0 else f"the model says it fails ({failing[0]}), the dry run did not"
    if proc.returncode != 0:
        return f"the dry run failed: {proc.stderr[-400:]}"
    real = dry_run_types(proc.stdout + proc.stderr)
    mine = {o.name: o.type for o in outcomes}
    diff = {n: (mine.get(n), real.get(n)) for n in sorted(set(mine) | set(real)) if mine.get(n) != real.get(n)}
    return f"(model, real): {dict(list(diff.items())[:6])}" if diff else None


@pytest.mark.parametrize("kind", KINDS)
def test_every_tensor_as_the_dry_run(kind, fixture_model, fixture_imatrix, llama_quantize, tmp_path):
    model = fixture_model(kind)
    imatrix = fixture_imatrix(kind)
    info = load_model(model)
    cases = cases_for(kind, info)

    def run(case: Case) -> subprocess.CompletedProcess:
        argv = case.argv(llama_quantize, model, imatrix, tmp_path / "out.gguf")
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(run, cases))
    wrong = [(c, why) for c, p in zip(cases, procs) if (why := _disagreement(c, info, p))]
    assert not wrong, f"{len(wrong)} of {len(cases)} runs differ:\n" + "\n".join(
        f"{' '.join(c.argv(Path('llama-quantize'), Path(kind + '.gguf'), Path('imatrix.gguf'), Path('o.gguf'))[1:])}"
        f"\n    {why}" for c, why in wrong[:8])
    assert not (tmp_path / "out.gguf").exists()


def test_the_ci_set_has_over_a_thousand_runs():
    per_kind = len(ggml.FTYPE_NAMES) * 2 * (1 + GENERATED_PER_SETTING)
    assert per_kind * len(KINDS) >= 1000
    assert {"COPY", "MXFP4_MOE", "Q2_0", "Q1_0", "IQ1_M", "Q3_K"} <= set(ggml.FTYPE_NAMES)


# --- real runs: `error` says when llama-quantize itself fails ----------------------------------------

REAL_RUNS = [
    # (kind, FTYPE, imatrix, extra flags)
    ("llama", "Q4_K_M", False, ()),
    ("llama", "IQ2_XXS", False, ()),                       # refuses without an imatrix
    ("llama", "IQ2_XXS", True, ()),
    ("llama", "Q2_K_S", False, ()),                         # Q2_K needs one under Q2_K_S only
    ("llama", "Q2_K", False, ()),
    ("llama", "Q4_K_M", False, ("--tensor-type", "attn_q=q8_K")),  # parses, then aborts
    ("llama", "Q4_K_M", False, ("--tensor-type", "^token_embd\\.weight$=iq2_xxs")),  # no check, ggml aborts
    ("llama", "Q4_K_M", False, ("--output-tensor-type", "iq1_s")),
    ("llama", "Q4_K_M", True, ("--output-tensor-type", "iq1_s")),
    ("llama_e288", "Q8_0", False, ("--token-embedding-type", "q4_K")),  # options get no fallback
    ("llama_e288", "Q8_0", False, ("--tensor-type", "token_embd=q4_K")),  # rules do
    ("qwen35moe", "IQ1_M", True, ()),
    ("qwen3moe_8x", "IQ3_XXS", False, ()),
]


@pytest.mark.parametrize("kind,ftype,imatrix,flags", REAL_RUNS)
def test_error_says_when_the_real_run_fails(kind, ftype, imatrix, flags, fixture_model, fixture_imatrix,
                                            llama_quantize, tmp_path):
    model = fixture_model(kind)
    im = fixture_imatrix(kind, nextn=True)  # data for every tensor the run quantizes with one
    info = load_model(model)
    opts = dict(zip(flags[::2], flags[1::2]))
    pattern, _, typ = opts.get("--tensor-type", "").partition("=")
    rules = [Rule(pattern, ggml.canonical_type(typ))] if pattern else []
    outcomes = decide(info, QuantizeParams(
        ftype, imatrix=imatrix, rules=tuple(rules),
        token_embedding_type=ggml.canonical_type(opts.get("--token-embedding-type", "")),
        output_tensor_type=ggml.canonical_type(opts.get("--output-tensor-type", ""))))
    cmd = [str(llama_quantize), *(["--imatrix", str(im)] if imatrix else []), *flags,
           str(model), str(tmp_path / "out.gguf"), ftype, "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    errors = [f"{o.name}: {o.error}" for o in outcomes if o.error]
    assert (proc.returncode != 0) == bool(errors), (errors[:3], proc.returncode, proc.stderr[-600:])
