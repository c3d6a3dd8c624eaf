"""The shipped Qwen3.5-35B-A3B manifest reproduces the published figures and is regenerated exactly."""

import importlib.util
import json
from pathlib import Path

from recipec.imatrix import coverage
from recipec.loaders import dumps_manifest, load_imatrix, load_model

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json"
CONFIG = ROOT / "examples" / "qwen3.5-35b-a3b.config.json"
IMATRIX = ROOT / "examples" / "qwen3.5-35b-a3b.imatrix.json"


def _script():
    spec = importlib.util.spec_from_file_location("make_example_manifest", ROOT / "scripts" / "make_example_manifest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_published_figures():
    info = load_model(MANIFEST)
    assert info.arch == "qwen35moe" and len(info.tensors) == 753
    assert (info.block_count, info.nextn_layers) == (41, 1)
    mtp = info.mtp_tensors
    assert len(mtp) == 20 and all(t.name.startswith("blk.40.") for t in mtp)
    assert sum(t.role.startswith("nextn.") for t in mtp) == 4
    trunk = info.trunk_tensors
    params = sum(t.n_elements for t in trunk)
    assert abs(params / 1e9 - 34.66) < 0.01
    bf16_bytes = sum(t.n_elements * (2 if t.type == "BF16" else 4) for t in trunk)
    assert abs(bf16_bytes / 69.38e9 - 1) < 0.002
    assert info.full_attention_layers == tuple(range(3, 40, 4)) + (40,)
    assert len(info.recurrent_layers) == 30
    assert info.tensor("blk.3.attn_q.weight").shape == (2048, 8192)
    assert info.tensor("blk.0.ffn_down_exps.weight").shape == (512, 2048, 256)
    assert info.tensor("blk.0.ssm_conv1d.weight").type == "F32"


def test_regenerates_byte_for_byte(tmp_path):
    out, imat = tmp_path / "m.json", tmp_path / "i.json"
    assert _script().main(["--config", str(CONFIG), "--out", str(out), "--imatrix-out", str(imat)]) == 0
    assert out.read_bytes() == MANIFEST.read_bytes()
    assert imat.read_bytes() == IMATRIX.read_bytes()
    assert dumps_manifest(load_model(MANIFEST)) == MANIFEST.read_text()


def test_config_copy_matches_the_published_numbers():
    c = json.loads(CONFIG.read_text())
    assert c["num_hidden_layers"] == 40 and c["mtp_num_hidden_layers"] == 1


def test_example_imatrix_summary():
    assert IMATRIX.stat().st_size < 1 << 20
    stats = load_imatrix(IMATRIX)
    info = load_model(MANIFEST)
    assert stats.format == "summary" and not stats.has_raw and stats.chunk_count == 100
    t = stats.get("blk.0.ffn_down_exps.weight")
    assert t.n_mat == 256 and len(t.importance) == 256 and t.counts[-1] == 0 and t.importance[-1] == 1.0
    assert stats.fingerprint("blk.3.attn_q.weight") == stats.fingerprint("blk.3.attn_k.weight")
    diags = coverage(stats, info)
    assert len(diags) == 1 and "MTP" in diags[0].message
