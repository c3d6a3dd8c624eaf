"""`recipec roles`: every role with its layers, tensor count, bytes at the source types and layer sets.

The expected values are worked out by hand from the fixture layouts (recipec/fixtures.py) and the
example manifest: llama has 2 trunk layers, all full attention, F16 matrices of 256 columns;
qwen35moe_8x has 7 trunk layers with full attention in layer 3 only (every 4th) and the MTP
block 7; the example Qwen3.5-35B-A3B has 40 trunk layers, full attention every 4th from 3, MTP 40.
"""

from __future__ import annotations

import json

import pytest

from recipec.cli import run

EXAMPLE = "examples/qwen3.5-35b-a3b.manifest.json"


def roles_json(model, capsys) -> dict:
    assert run(["roles", "--model", str(model), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "recipec.roles/1"
    return data


def by_role(data) -> dict:
    return {r["role"]: r for r in data["roles"]}


def test_llama_every_layer_is_full_attention(fixture_model, capsys):
    data = roles_json(fixture_model("llama"), capsys)
    assert (data["trunk_layers"], data["mtp_layers"]) == (2, [])
    assert (data["full_attention_layers"], data["recurrent_layers"]) == ([0, 1], [])
    rows = by_role(data)
    # attn_q: 256 x (4 heads x 64) F16 = 256*256*2 bytes, one per layer
    assert rows["attn_q"] == {"role": "attn_q", "layers": [0, 1], "mtp_layers": [], "layers_text": "0..1",
                              "tensors": 2, "bytes": 2 * 256 * 256 * 2, "source_types": ["F16"],
                              "sets": ["trunk", "full-attention"], "quantized": True}
    assert rows["ffn_down"]["bytes"] == 2 * 800 * 256 * 2
    assert (rows["token_embd"]["layers_text"], rows["token_embd"]["sets"]) == ("global", [])
    assert rows["token_embd"]["bytes"] == 256 * 320 * 2
    assert (rows["attn_norm"]["quantized"], rows["attn_norm"]["bytes"], rows["attn_norm"]["source_types"]) \
        == (False, 2 * 256 * 4, ["F32"])
    assert list(rows) == sorted(rows)


def test_split_model_reads_every_shard(fixture_model, capsys):
    one = by_role(roles_json(fixture_model("llama"), capsys))
    split = by_role(roles_json(fixture_model("llama_split"), capsys))
    assert split == one


def test_qwen35moe_hybrid_sets(fixture_model, capsys):
    data = roles_json(fixture_model("qwen35moe_8x"), capsys)
    assert (data["trunk_layers"], data["mtp_layers"]) == (7, [7])
    assert (data["full_attention_layers"], data["recurrent_layers"]) == ([3], [0, 1, 2, 4, 5, 6])
    rows = by_role(data)
    # attn_q is twice as wide (gated): 256 x 512 F16, in layer 3 and the MTP block
    assert {k: rows["attn_q"][k] for k in ("layers_text", "tensors", "bytes", "sets")} == \
        {"layers_text": "3, mtp 7", "tensors": 2, "bytes": 2 * 256 * 512 * 2,
         "sets": ["trunk", "full-attention", "mtp"]}
    # ssm_out: 256 x 256 F16 in the six recurrent layers
    assert {k: rows["ssm_out"][k] for k in ("layers_text", "tensors", "bytes", "sets")} == \
        {"layers_text": "0..2,4..6", "tensors": 6, "bytes": 6 * 256 * 256 * 2, "sets": ["trunk", "recurrent"]}
    # 8 experts of 128 x 256 F16 per layer, trunk and MTP
    assert {k: rows["ffn_down_exps"][k] for k in ("layers_text", "tensors", "bytes", "sets")} == \
        {"layers_text": "0..6, mtp 7", "tensors": 8, "bytes": 8 * 128 * 256 * 8 * 2,
         "sets": ["trunk", "full-attention", "recurrent", "mtp"]}
    assert {k: rows["nextn.eh_proj"][k] for k in ("layers_text", "tensors", "bytes", "sets")} == \
        {"layers_text": "mtp 7", "tensors": 1, "bytes": 512 * 256 * 2, "sets": ["mtp"]}
    assert rows["ssm_a"]["quantized"] is False


def test_example_manifest(capsys):
    data = roles_json(EXAMPLE, capsys)
    assert data["full_attention_layers"] == list(range(3, 40, 4))
    assert len(data["recurrent_layers"]) == 30 and data["mtp_layers"] == [40]
    rows = by_role(data)
    # attn_q: 2048 x 8192 BF16 = 32 MiB, in the 10 full-attention layers and the MTP block
    assert {k: rows["attn_q"][k] for k in ("layers_text", "tensors", "bytes", "source_types")} == \
        {"layers_text": "every 4 from 3, mtp 40", "tensors": 11, "bytes": 11 * 32 * 2**20, "source_types": ["BF16"]}
    assert rows["ffn_down_exps"]["layers_text"] == "0..39, mtp 40"
    assert rows["attn_gate"]["sets"] == ["trunk", "recurrent"]


def test_text_table(capsys):
    assert run(["roles", "--model", EXAMPLE]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "qwen35moe: 40 trunk layers, MTP blocks 40"
    assert lines[1].split() == ["full-attention", "3,7,11,15,19,23,27,31,35,39"]
    row = next(line for line in lines if line.startswith("attn_q "))
    assert row.split() == ["attn_q", "every", "4", "from", "3,", "mtp", "40", "11", "352.00", "MiB", "BF16",
                           "trunk", "full-attention", "mtp"]
    assert any(line.startswith("ssm_a (not quantized)") for line in lines)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_output_is_byte_identical(fmt, capsys):
    run(["roles", "--model", EXAMPLE, "--format", fmt])
    first = capsys.readouterr().out
    run(["roles", "--model", EXAMPLE, "--format", fmt])
    assert capsys.readouterr().out == first


def test_unreadable_model_is_a_diagnostic(tmp_path, capsys):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"not a gguf")
    assert run(["roles", "--model", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "x.gguf" in err and "Traceback" not in err
