"""imatrix reading (GGUF, .dat, summary), summaries vs numpy, merging, coverage, inconsistency."""

import json

import gguf
import numpy as np
import pytest

from recipec import fixtures
from recipec.diagnostics import DiagnosticError
from recipec.imatrix import coverage, fingerprint, merge, tensor_stats
from recipec.loaders import dumps_summary, load_imatrix, load_model, summary_dict

KINDS = ("llama", "qwen3moe", "qwen35moe", "deepseek2")


def _direct(entries):
    """Importance per matrix computed directly with numpy from the generator's arrays."""
    out = {}
    for name, (s2, counts) in entries.items():
        c = counts.astype(np.float64)
        ms = s2.astype(np.float64) / np.where(c > 0, c, 1)[:, None]
        ms[c == 0] = 1.0
        out[name] = (c, ms.mean(axis=1))
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_gguf_summary_matches_numpy(fixture_model, fixture_imatrix, kind):
    info = load_model(fixture_model(kind))
    stats = load_imatrix(fixture_imatrix(kind))
    entries = fixtures.imatrix_entries(info, seed=0)
    assert set(stats.tensors) == set(entries)
    expect = _direct(entries)
    for name, t in stats.tensors.items():
        c, imp = expect[name]
        np.testing.assert_array_equal(t.counts, c)
        np.testing.assert_allclose(t.importance, imp, rtol=1e-6)
        np.testing.assert_array_equal(t.in_sum2, entries[name][0])
        np.testing.assert_allclose(t.mean_square().mean(axis=1), imp, rtol=1e-6)
    assert (stats.chunk_count, stats.chunk_size, stats.datasets) == (4, 512, ("calibration.txt",))
    assert stats.has_raw and stats.format == "gguf"


@pytest.mark.parametrize("kind", KINDS)
def test_dat_matches_gguf_means(fixture_model, fixture_imatrix, kind):
    info = load_model(fixture_model(kind))
    g = load_imatrix(fixture_imatrix(kind))
    d = load_imatrix(fixture_imatrix(kind, "dat"), info)
    assert set(g.tensors) == set(d.tensors) and d.format == "dat"
    for name, t in g.tensors.items():
        np.testing.assert_allclose(d.tensors[name].mean_square(), t.mean_square(), rtol=1e-5)
        np.testing.assert_allclose(d.tensors[name].importance, t.importance, rtol=1e-5)
    assert d.chunk_count == 4 and d.datasets == ("calibration.txt",)


def test_dat_without_model_keeps_one_matrix(fixture_imatrix):
    d = load_imatrix(fixture_imatrix("qwen3moe", "dat"))
    t = d.tensors["blk.0.ffn_down_exps.weight"]
    assert t.n_mat == 1 and t.ne0 == 256 * 4


def test_zero_count_expert_is_neutral(fixture_imatrix):
    t = load_imatrix(fixture_imatrix("qwen3moe")).tensors["blk.0.ffn_up_exps.weight"]
    assert t.counts[-1] == 0 and t.importance[-1] == 1.0
    assert np.all(t.mean_square()[-1] == 1.0)


def test_fingerprints_tie_tensors_reading_the_same_input(fixture_imatrix):
    s = load_imatrix(fixture_imatrix("llama"))
    fp = {n: s.fingerprint(n) for n in s.names}
    assert fp["blk.0.attn_q.weight"] == fp["blk.0.attn_k.weight"] == fp["blk.0.attn_v.weight"]
    assert fp["blk.0.ffn_gate.weight"] == fp["blk.0.ffn_up.weight"]
    assert fp["blk.0.attn_q.weight"] != fp["blk.1.attn_q.weight"]
    assert fp["blk.0.attn_output.weight"] != fp["blk.0.attn_q.weight"]
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert fingerprint(a) == fingerprint(a.copy()) != fingerprint(a.reshape(4, 3))
    assert fingerprint(np.float32(-0.0) * np.ones((1, 4), np.float32)) == fingerprint(np.zeros((1, 4), np.float32))


def test_merge_equals_one_combined_collection(fixture_model, fixture_imatrix):
    info = load_model(fixture_model("qwen35moe"))
    a, b = load_imatrix(fixture_imatrix("qwen35moe", seed=1)), load_imatrix(fixture_imatrix("qwen35moe", seed=2))
    m = merge([a, b])
    ea, eb = fixtures.imatrix_entries(info, seed=1), fixtures.imatrix_entries(info, seed=2)
    for name, t in m.tensors.items():
        s2 = ea[name][0].astype(np.float64) + eb[name][0]
        c = ea[name][1].astype(np.float64) + eb[name][1]
        want = tensor_stats(name, s2.astype(np.float32), c)
        np.testing.assert_allclose(t.in_sum2, s2, rtol=1e-6)
        np.testing.assert_array_equal(t.counts, c)
        np.testing.assert_allclose(t.importance, want.importance, rtol=1e-6)
        # not the average of the two means
        assert t.fingerprint == want.fingerprint
    assert m.chunk_count == 8 and m.datasets == ("calibration.txt",) and m.format == "merged"


def test_merged_summaries_keep_count_weighted_importance(fixture_imatrix, tmp_path):
    a, b = load_imatrix(fixture_imatrix("qwen3moe", seed=1)), load_imatrix(fixture_imatrix("qwen3moe", seed=2))
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(dumps_summary(a))
    pb.write_text(dumps_summary(b))
    raw, summ = merge([a, b]), merge([load_imatrix(pa), load_imatrix(pb)])
    for name, t in raw.tensors.items():
        np.testing.assert_allclose(summ.tensors[name].importance, t.importance, rtol=1e-5)
        np.testing.assert_array_equal(summ.tensors[name].counts, t.counts)
    assert not summ.has_raw


def test_merge_refuses_different_shapes(fixture_imatrix):
    with pytest.raises(DiagnosticError) as e:
        merge([load_imatrix(fixture_imatrix("llama")), load_imatrix(fixture_imatrix("llama_ff1000"))])
    assert e.value.diagnostics[0].code == "I105"


def test_summary_round_trip_and_size(fixture_imatrix, tmp_path):
    s = load_imatrix(fixture_imatrix("qwen35moe"))
    text = dumps_summary(s)
    assert text == dumps_summary(load_imatrix(fixture_imatrix("qwen35moe")))
    p = tmp_path / "s.json"
    p.write_text(text)
    back = load_imatrix(p)
    assert back.format == "summary" and not back.has_raw and back.mean_square(s.names[0]) is None
    for name, t in s.tensors.items():
        assert back.fingerprint(name) == t.fingerprint
        np.testing.assert_allclose(back.importance(name), t.importance, rtol=1e-5)
    assert dumps_summary(back) == text
    data = json.loads(text)
    assert data["schema"] == "recipec.imatrix/1" and data["chunk_size"] == 512


def test_coverage_reports_mtp_extra_and_shape(fixture_model, fixture_imatrix):
    info = load_model(fixture_model("qwen35moe"))
    diags = coverage(load_imatrix(fixture_imatrix("qwen35moe")), info)
    assert [d.code for d in diags] == ["I104"] and "MTP" in diags[0].message
    assert "blk.2.nextn.eh_proj.weight" in diags[0].notes
    assert coverage(load_imatrix(fixture_imatrix("qwen35moe", nextn=True)), info) == []
    other = coverage(load_imatrix(fixture_imatrix("qwen3moe")), info)
    text = " ".join(d.message for d in other)
    assert "no data" in text and "lacks" in text
    shape = coverage(load_imatrix(fixture_imatrix("llama_ff1000")), load_model(fixture_model("llama")))
    assert len(shape) == 1 and "blk.0.ffn_down.weight (1 x 1000 vs [800, 256])" in shape[0].message


def test_nextn_imatrix_records_layers(fixture_imatrix):
    assert load_imatrix(fixture_imatrix("qwen35moe", nextn=True)).n_layer_nextn == 1


def _write_gguf_imatrix(path, tensors, kind="imatrix"):
    w = gguf.GGUFWriter(path, "llama")
    w.kv_data[0].pop(gguf.Keys.General.ARCHITECTURE, None)
    w.add_type(kind)
    for name, arr in tensors.items():
        w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.mark.parametrize("tensors, needle", [
    ({"a.weight.in_sum2": np.ones((2, 8), np.float32), "a.weight.counts": np.ones((3, 1), np.float32)}, "counts"),
    ({"a.weight.in_sum2": np.ones((1, 8), np.float32)}, "no counts"),
    ({"a.weight.counts": np.ones((1, 1), np.float32)}, "no in_sum2"),
    ({"a.weight.in_sum2": np.ones((1, 8), np.float32), "a.weight.counts": -np.ones((1, 1), np.float32)}, "counts"),
    ({"a.weight.in_sum2": np.ones((2, 8), np.float32),
      "a.weight.counts": np.array([[1], [0]], np.float32)}, "count 0"),
    ({"a.weight.in_sum2": np.ones((1, 8), np.float32), "a.weight.counts": np.ones((1, 1), np.float32),
      "a.weight.in_sum": np.ones((1, 4), np.float32)}, "in_sum"),
    ({"a.weight.in_sum2": np.ones((1, 8), np.float16), "a.weight.counts": np.ones((1, 1), np.float32)}, "F32"),
    ({"a.weight.in_sum2": np.full((1, 8), np.nan, np.float32), "a.weight.counts": np.ones((1, 1), np.float32)},
     "non-finite"),
    ({"a.weight.in_sum2": -np.ones((1, 8), np.float32), "a.weight.counts": np.ones((1, 1), np.float32)},
     "negative"),
])
def test_inconsistent_imatrix(tmp_path, tensors, needle):
    p = _write_gguf_imatrix(tmp_path / "bad.gguf", tensors)
    with pytest.raises(DiagnosticError) as e:
        load_imatrix(p)
    d = e.value.diagnostics[0]
    assert d.code == "I103" and str(p) in d.message and needle in d.message


def test_model_given_as_imatrix(fixture_model):
    with pytest.raises(DiagnosticError) as e:
        load_imatrix(fixture_model("llama"))
    assert e.value.diagnostics[0].code == "I102"


def test_manifest_given_as_imatrix(fixture_model, tmp_path):
    from recipec.loaders import dumps_manifest
    p = tmp_path / "m.json"
    p.write_text(dumps_manifest(load_model(fixture_model("llama"))))
    with pytest.raises(DiagnosticError) as e:
        load_imatrix(p)
    assert e.value.diagnostics[0].code == "I102"


@pytest.mark.parametrize("data, needle", [
    (b"", "truncated"),
    (b"\x01\x00\x00\x00", "impossible"),
    (b"\xff\xff\xff\x7f" + b"\x00" * 64, "impossible"),
    (b"\x01\x00\x00\x00" + b"\xf0\xff\xff\xff" + b"\x00" * 16, "negative"),
    (b"\x01\x00\x00\x00" + b"\x01\x00\x00\x00a" + b"\x01\x00\x00\x00" + b"\xff\xff\xff\x3f" + b"\x00" * 8, "past the end"),
    (b"\x01\x00\x00\x00" + b"\x01\x00\x00\x00a" + b"\x01\x00\x00\x00" + b"\x00\x00\x00\x00" + b"\x00" * 8, "out of range"),
])
def test_bad_dat(tmp_path, data, needle):
    p = tmp_path / "bad.dat"
    p.write_bytes(data)
    with pytest.raises(DiagnosticError) as e:
        load_imatrix(p)
    d = e.value.diagnostics[0]
    assert d.code == "I101" and str(p) in d.message and needle in d.message


def test_dat_without_trailer(tmp_path, fixture_model):
    info = load_model(fixture_model("llama"))
    entries = fixtures.imatrix_entries(info)
    p = tmp_path / "x.dat"
    p.write_bytes(fixtures.dat_bytes(entries, 4, 512, None))
    s = load_imatrix(p)
    assert s.chunk_count == 0 and s.datasets == () and set(s.tensors) == set(entries)
    assert summary_dict(s)["tensors"]["output.weight"]["counts"] == [4]
