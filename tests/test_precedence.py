"""Precedence that is visible: the more specific pin wins, `mtp keep` owns the MTP block unless a
pin says `@mtp`, every overridden statement is reported (R309, silenced by an ignore comment), a
floor reaching a tensor through a tie is named by its own line, and `explain` names the decider.
Expectations are written by hand against the example manifest (Qwen3.5-35B-A3B: 40 trunk layers,
linear-attention layers carry attn_gate, layer 3 is full attention, block 40 is the MTP block)."""

from __future__ import annotations

import json

from recipec.api import compile_recipe
from recipec.resolve.bounds import Bound, Deciding, decide, overridden
from tests.kit_helpers import ROOT, recipec_cli

MODEL = str(ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json")
MTP_EXPERTS = "blk.40.ffn_gate_exps.weight, blk.40.ffn_up_exps.weight, blk.40.ffn_down_exps.weight"


def _compile(tmp_path, body: str):
    path = tmp_path / "p.recipe"
    path.write_text('recipe "p"\narch qwen35moe\nbase IQ4_XS\n' + body)
    return path, compile_recipe(str(path), MODEL)


def _types(compiled) -> dict[str, tuple[str, str]]:
    return {e.name: (e.type, e.reason) for e in compiled.plan.tensors}


def _r309(compiled) -> list[tuple[int, str]]:
    return [(d.span.line, d.message) for d in compiled.diagnostics if d.code == "R309"]


def test_a_glob_pin_does_not_take_the_mtp_block_from_mtp_keep(tmp_path):
    _, c = _compile(tmp_path, "pin ffn_*_exps NVFP4\nmtp keep BF16\ntarget cuda-blackwell\n")
    assert c.plan is not None, c.diagnostics
    types = _types(c)
    assert types["blk.40.ffn_down_exps.weight"] == ("BF16", "mtp-keep@5")
    assert types["blk.39.ffn_down_exps.weight"] == ("NVFP4", "pin@4")
    assert _r309(c) == [(4, f"`pin NVFP4` is overridden by `mtp keep BF16` (line 5) on 3 tensor(s): {MTP_EXPERTS}")]
    warning = next(d for d in c.diagnostics if d.code == "R309")
    assert warning.severity == "warning" and warning.notes[0].endswith(":5:1: `mtp keep BF16` decides them")


def test_a_pin_that_names_mtp_beats_mtp_keep(tmp_path):
    _, c = _compile(tmp_path, "pin ffn_*_exps@mtp Q8_0\nmtp keep BF16\n")
    types = _types(c)
    assert types["blk.40.ffn_up_exps.weight"] == ("Q8_0", "pin@4")
    assert types["blk.40.attn_q.weight"] == ("BF16", "mtp-keep@5")
    assert _r309(c) == [(5, f"`mtp keep BF16` is overridden by `pin Q8_0` (line 4) on 3 tensor(s): {MTP_EXPERTS}")]


def test_the_more_specific_pin_wins_whatever_the_order(tmp_path):
    _, c = _compile(tmp_path, "pin output Q8_0\npin attn_gate@0..3 Q5_K\npin * Q6_K  # recipec: ignore[L002]\n"
                              "mtp drop\n")
    assert c.plan is not None, c.diagnostics
    types = _types(c)
    assert types["output.weight"] == ("Q8_0", "pin@4")  # a literal role beats a glob
    assert types["blk.0.attn_gate.weight"] == ("Q5_K", "pin@5")  # a layer filter beats none
    assert types["blk.2.attn_gate.weight"] == ("Q5_K", "pin@5")
    assert types["blk.4.attn_gate.weight"] == ("Q6_K", "pin@6")
    assert types["token_embd.weight"] == ("Q6_K", "pin@6")
    assert _r309(c) == [
        (6, "`pin Q6_K` is overridden by `pin Q8_0` (line 4) on 1 tensor(s): output.weight"),
        (6, "`pin Q6_K` is overridden by `pin Q5_K` (line 5) on 3 tensor(s): "
            "blk.0.attn_gate.weight, blk.1.attn_gate.weight, blk.2.attn_gate.weight"),
    ]


def test_equal_specificity_the_later_pin_wins():
    a, b = Bound("pin", "Q4_K", None, (0, 1)), Bound("pin", "Q6_K", None, (0, 1))
    glob_later = Bound("pin", "Q8_0", None, (0, 0))
    assert decide("t", (a, b))[0] == Deciding(b, None, None)
    assert decide("t", (a, glob_later))[0] == Deciding(a, None, None)
    assert overridden((a, glob_later), Deciding(a, None, None)) == [(glob_later, a)]
    floor_below, floor_above = Bound("floor", "Q3_K", None), Bound("floor", "Q8_0", None)
    # a floor the pin respects is not overridden; one above the pin is
    assert overridden((a, floor_below, floor_above), Deciding(a, floor_above, None)) == [(floor_above, a)]


def test_an_ignore_comment_silences_the_override_in_diagnostics_and_plan(tmp_path):
    _, c = _compile(tmp_path, "pin ffn_*_exps Q4_K  # recipec: ignore[R309]\nmtp keep BF16\n")
    assert _r309(c) == [] and not any("R309" in n for n in c.plan.notes)
    _, loud = _compile(tmp_path, "pin ffn_*_exps Q4_K\nmtp keep BF16\n")
    assert len(_r309(loud)) == 1 and any(n.startswith("R309") or "R309" in n for n in loud.plan.notes)


TIED = ("floor * Q4_K\nfloor ssm_alpha ssm_beta Q8_0\ntie ssm_alpha ssm_beta attn_qkv attn_gate\n"
        "mtp drop\n")


def test_a_floor_through_a_tie_is_named_by_its_own_line(tmp_path):
    path, c = _compile(tmp_path, TIED)
    types = _types(c)
    # attn_qkv's own floor is line 4 (Q4_K); the Q8_0 it gets comes from ssm_alpha's floor, line 5
    assert types["blk.0.attn_qkv.weight"] == ("Q8_0", "floor@5")
    assert types["blk.0.ssm_alpha.weight"] == ("Q8_0", "floor@5")
    assert _r309(c) == []  # the tied floor respects every member's own floor: nothing is overridden
    rc, out, err = recipec_cli("explain", str(path), "--model", MODEL, "blk.0.attn_qkv.weight")
    assert rc == 0, err
    assert out.splitlines()[-3:] == [
        f"  decided {path}:5:1: floor Q8_0",
        "  chosen Q8_0 (floor@5)",
        f"  why    no budget: the stock IQ4_XS type is raised to the floor of a tied tensor (tie@6) at {path}:5:1"]


def test_explain_by_role_and_as_json(tmp_path):
    path, _ = _compile(tmp_path, "pin ffn_*_exps Q5_K\nmtp keep Q8_0\n")
    rc, out, err = recipec_cli("explain", str(path), "--model", MODEL, "ffn_up_exps")
    assert rc == 0, err
    blocks = out.split("\n\n")
    assert len(blocks) == 41 and blocks[0].startswith("blk.0.ffn_up_exps.weight\n")
    assert f"  decided {path}:5:1: mtp-keep Q8_0" in blocks[-1]
    assert f"    {path}:4:1: pin Q5_K  (overridden by mtp-keep Q8_0 at {path}:5:1)" in blocks[-1]
    rc, out, err = recipec_cli("explain", str(path), "--model", MODEL, "blk.40.ffn_*_exps.weight", "--format", "json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["version"] == 1
    got = {t["name"]: (t["type"], t["decided_by"]["kind"], t["decided_by"]["where"]) for t in data["tensors"]}
    assert got == {"blk.40.ffn_gate_exps.weight": ("Q8_0", "mtp-keep", f"{path}:5:1"),
                   "blk.40.ffn_up_exps.weight": ("Q8_0", "mtp-keep", f"{path}:5:1"),
                   "blk.40.ffn_down_exps.weight": ("Q8_0", "mtp-keep", f"{path}:5:1")}
    pin = next(b for b in data["tensors"][0]["bounds"] if b["kind"] == "pin")
    assert pin == {"kind": "pin", "type": "Q5_K", "where": f"{path}:4:1", "overridden_by": f"{path}:5:1"}
    rc, _, err = recipec_cli("explain", str(path), "--model", MODEL, "ffn_upp_exps")
    assert rc == 1 and "R308" in err
