"""Property tests: emitted rules reproduce any plan under first-match, last-match and any order."""

from __future__ import annotations

import random
import re

import gguf
from hypothesis import given, settings
from hypothesis import strategies as st

from recipec import ggml
from recipec.llamacpp import Rule, simulate
from recipec.modelinfo import ModelInfo, TensorInfo, split_name
from recipec.rules import is_portable
from tests.rule_helpers import quantized_names, synthesize

# Role templates per architecture, from gguf's own tables ({bid} is the layer).
ARCH_ROLES: dict[str, tuple[str, ...]] = {
    arch.name.lower(): tuple(sorted({gguf.TENSOR_NAMES[t] for t in tensors}))
    for arch, tensors in gguf.MODEL_TENSORS.items()
}
# Names the tables lack or that trip unanchored patterns: MTP, MLA, prefix pairs.
EXTRA_ROLES: tuple[str, ...] = (
    "blk.{bid}.nextn.eh_proj", "blk.{bid}.nextn.embed_tokens", "blk.{bid}.nextn.shared_head_head",
    "blk.{bid}.attn_k", "blk.{bid}.attn_k_b", "blk.{bid}.attn_kv_b", "blk.{bid}.attn_kv_a_mqa",
    "blk.{bid}.ssm_a", "blk.{bid}.ssm_alpha", "blk.{bid}.ssm_out", "blk.{bid}.ffn_gate",
    "blk.{bid}.ffn_gate_exps", "blk.{bid}.ffn_gate_inp", "blk.{bid}.ffn_gate_shexp",
    "blk.{bid}.attn_output", "output", "blk.{bid}.attn_qkv", "blk.{bid}.attn_gate",
)
TYPES = sorted(ggml.TARGET_TYPES)
CORPUS: list = []  # every case the exactness test generated (reused by the differential test)
ROW = 256  # every target type's block divides it: no fallbacks in the property corpora


def make_model(names: list[str], n_layers: int) -> ModelInfo:
    """A ModelInfo with 2-D F16 tensors named NAMES (quantizable unless the name says otherwise)."""
    tensors = []
    for n in names:
        role, layer = split_name(n)
        tensors.append(TensorInfo(n, (ROW, 64), "F16", role, layer, False))
    return ModelInfo("llama", tuple(tensors), block_count=n_layers, nextn_layers=0)


@st.composite
def plans(draw):
    """(model, assignment): a name universe from one architecture's roles and a random plan."""
    arch = draw(st.sampled_from(sorted(ARCH_ROLES)))
    pool = sorted(set(ARCH_ROLES[arch]) | set(EXTRA_ROLES))
    roles = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=8, unique=True))
    n_layers = draw(st.one_of(st.integers(1, 12), st.integers(1, 200)))
    names = []
    for r in roles:
        if "{bid}" in r:
            names += [r.format(bid=i) + ".weight" for i in range(n_layers)]
        elif "{" not in r:
            names.append(r + ".weight")
    model = make_model(names, n_layers)
    palette = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=5, unique=True))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    style = draw(st.sampled_from(["uniform", "runs", "random"]))
    assignment = {}
    quantized = quantized_names(model)
    for n in quantized:
        role, layer = split_name(n)
        if style == "uniform" or layer is None:
            assignment[n] = palette[sum(map(ord, role)) % len(palette)] if style == "uniform" else rng.choice(palette)
        elif style == "runs":
            assignment[n] = palette[(layer * len(palette)) // max(n_layers, 1)]
        else:
            assignment[n] = rng.choice(palette)
    return model, assignment


def _types(rules, model, first_match=True):
    return {o.name: o.type for o in simulate(rules, model, "Q4_K_M", first_match=first_match)
            if o.decided_by == "rule"}


def check_exact(model, assignment, order_seed: int = 0) -> list[Rule]:
    rules = synthesize(model, assignment)
    CORPUS.append((model, assignment, rules))
    assert _types(rules, model) == assignment
    assert _types(rules, model, first_match=False) == assignment
    shuffled = list(rules)
    random.Random(order_seed).shuffle(shuffled)
    assert _types(shuffled, model) == assignment
    return rules


@settings(max_examples=500)
@given(plans(), st.integers(0, 1000))
def test_emitted_rules_are_exact_in_any_order(plan, order_seed):
    model, assignment = plan
    check_exact(model, assignment, order_seed)


@settings(max_examples=300)
@given(plans())
def test_patterns_are_portable_and_lowercase_proof(plan):
    model, assignment = plan
    for r in synthesize(model, assignment):
        assert r.pattern == r.pattern.lower()
        assert is_portable(r.pattern), r.pattern
        assert r.pattern.startswith("^") and r.pattern.endswith("$")
        re.compile(r.pattern)


@settings(max_examples=200)
@given(plans())
def test_rules_are_pairwise_disjoint_and_compact(plan):
    model, assignment = plan
    rules = synthesize(model, assignment)
    compiled = [re.compile(r.pattern) for r in rules]
    for t in model.tensors:
        hits = [i for i, rx in enumerate(compiled) if rx.search(t.name)]
        assert len(hits) == (1 if t.name in assignment else 0), (t.name, [rules[i] for i in hits])
    pairs = {(split_name(n)[0], typ) for n, typ in assignment.items()}
    assert len(rules) <= len(pairs)


def test_synthesis_is_deterministic():
    names = [f"blk.{i}.{r}.weight" for i in range(40) for r in ("attn_q", "attn_k", "ffn_down_exps")]
    model = make_model(names + ["output.weight", "token_embd.weight"], 40)
    plan = {n: "Q6_K" if n.startswith(("blk.0.", "blk.1.")) else "IQ4_XS" for n in quantized_names(model)}
    assert synthesize(model, plan) == synthesize(model, dict(reversed(list(plan.items()))))
    assert [str(r) for r in synthesize(model, plan)] == [
        r"^(?:output|token_embd)\.weight$=iq4_xs",
        r"^blk\.[0-1]\.(?:attn_k|attn_q|ffn_down_exps)\.weight$=q6_K",
        r"^blk\.([2-9]|[1-3][0-9])\.(?:attn_k|attn_q|ffn_down_exps)\.weight$=iq4_xs",
    ]
