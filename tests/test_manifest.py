"""Manifest JSON: shape per the data contract, round trip, determinism, sniffing, bad manifests."""

import json

import pytest

from recipec import fixtures
from recipec.diagnostics import DiagnosticError
from recipec.loaders import MANIFEST_SCHEMA, dumps_manifest, load_model, manifest_dict, read_manifest


def test_manifest_shape(fixture_model):
    info = load_model(fixture_model("qwen35moe"))
    m = manifest_dict(info)
    assert set(m) == {"schema", "arch", "alignment", "source", "metadata", "tensors"}
    assert m["schema"] == MANIFEST_SCHEMA and m["arch"] == "qwen35moe"
    f = m["source"]["files"][0]
    assert set(f) == {"name", "size", "header_sha256", "data_offset"}
    assert f["name"] == "qwen35moe.gguf" and f["size"] == fixture_model("qwen35moe").stat().st_size
    assert m["metadata"]["nextn_predict_layers"] == 1 and m["metadata"]["block_count"] == 3
    assert m["tensors"][0] == {"name": "token_embd.weight", "shape": [256, 320], "type": "F16"}


@pytest.mark.parametrize("kind", fixtures.KINDS)
def test_round_trip_through_json(fixture_model, tmp_path, kind):
    info = load_model(fixture_model(kind))
    text = dumps_manifest(info)
    assert text.endswith("}\n") and text == dumps_manifest(load_model(fixture_model(kind)))
    path = tmp_path / "m.json"
    path.write_text(text)
    back = load_model(path)
    assert back.tensors == info.tensors
    assert (back.arch, back.block_count, back.nextn_layers, back.alignment) == \
        (info.arch, info.block_count, info.nextn_layers, info.alignment)
    assert back.sources == info.sources
    assert dict(back.metadata) == json.loads(text)["metadata"]
    assert back.full_attention_layers == info.full_attention_layers
    assert dumps_manifest(back) == text


@pytest.mark.parametrize("data, needle", [
    ("[]", "not a JSON object"),
    ('{"schema": "other/1"}', "schema"),
    ('{"schema": "recipec.manifest/1", "arch": "llama", "metadata": {}, "tensors": [{"name": "a"}]}', "shape"),
    ('{"schema": "recipec.manifest/1", "arch": "llama", "metadata": {}, '
     '"tensors": [{"name": "a", "shape": [0], "type": "F16"}]}', "dimension"),
    ('{"schema": "recipec.manifest/1", "arch": "llama", "metadata": {}, '
     '"tensors": [{"name": "a", "shape": [4], "type": "Q9_Z"}]}', "Q9_Z"),
    ('{"schema": "recipec.manifest/1", "arch": "llama", "metadata": {}, "tensors": ['
     '{"name": "a", "shape": [4], "type": "F16"}, {"name": "a", "shape": [4], "type": "F16"}]}', "twice"),
    ('{"schema": "recipec.manifest/1", ', "JSON"),
])
def test_bad_manifest(tmp_path, data, needle):
    p = tmp_path / "bad.json"
    p.write_text(data)
    with pytest.raises(DiagnosticError) as e:
        read_manifest(p)
    d = e.value.diagnostics[0]
    assert d.code == "M103" and str(p) in d.message and needle in d.message


@pytest.mark.parametrize("metadata, needle", [
    ('{"block_count": -1}', "block_count = -1: out of range (0 to 65535)"),
    ('{"block_count": 4294967295}', "block_count = 4294967295: out of range"),
    ('{"block_count": "2"}', "block_count = '2': must be an integer"),
    ('{"block_count": [2]}', "block_count = [2]: must be a single integer"),
    ('{"attention.head_count": [[4]]}', "attention.head_count = [[4]]: must be an integer"),
    ('{"context_length": 1.5}', "context_length = 1.5: must be an integer"),
    ('{"tied_embeddings": 1}', "tied_embeddings = 1: must be true or false"),
    ('{"rope.freq_base": {"a": 1}}', "rope.freq_base = {'a': 1}: must be a number"),
    ('{"block_count": 3}', "block_count = 3: the file has tensors for blocks 0 to 1 only"),
    ('{"block_count": 1}', "block_count = 1: a tensor of block 1 lies past the last block"),
    ('{"block_count": 2, "nextn_predict_layers": 3}', "nextn_predict_layers = 3: leaves no trunk block"),
    ('{"block_count": 2, "nextn_predict_layers": 2}', "nextn_predict_layers = 2: leaves no trunk block"),
])
def test_bad_manifest_metadata(tmp_path, metadata, needle):
    tensors = [{"name": f"blk.{i}.attn_q.weight", "shape": [32, 32], "type": "F16"} for i in range(2)]
    p = tmp_path / "bad.json"
    p.write_text('{"schema": "recipec.manifest/1", "arch": "llama", "metadata": %s, "tensors": %s}'
                 % (metadata, json.dumps(tensors)))
    with pytest.raises(DiagnosticError) as e:
        read_manifest(p)
    d = e.value.diagnostics[0]
    assert d.code == "M109" and d.message.startswith(f"{p}: metadata ") and needle in d.message, d.message


def test_load_model_refuses_other_files(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"hello world")
    with pytest.raises(DiagnosticError) as e:
        load_model(p)
    assert e.value.diagnostics[0].code == "M101"
    with pytest.raises(DiagnosticError) as e:
        load_model(tmp_path / "absent.gguf")
    assert e.value.diagnostics[0].code == "M101"


def test_summary_given_as_model(tmp_path):
    p = tmp_path / "s.json"
    p.write_text('{"schema": "recipec.imatrix/1", "tensors": {}}')
    with pytest.raises(DiagnosticError) as e:
        load_model(p)
    assert e.value.diagnostics[0].code == "M104"
