"""Model GGUF reading: every fixture kind, split shards, MTP, hybrid layouts, shard errors."""

import shutil

import pytest

from recipec import fixtures
from recipec.diagnostics import DiagnosticError
from recipec.loaders import load_model, read_gguf_model


@pytest.mark.parametrize("kind", fixtures.KINDS)
def test_reads_the_tensors_the_generator_wrote(fixture_model, kind):
    info = read_gguf_model(fixture_model(kind))
    assert [(t.name, t.shape, t.type) for t in info.tensors] == fixtures.intended_tensors(kind)
    arch, kv, _ = fixtures.model_spec(kind)
    assert info.arch == arch
    assert info.block_count == kv["block_count"]
    for key in ("embedding_length", "attention.head_count", "expert_count", "ssm.state_size"):
        if key in kv:
            assert info.metadata[key] == kv[key]
    assert info.vocab_size == fixtures.N_VOCAB
    assert info.alignment == 32
    assert info.sources and all(len(s.header_sha256) == 64 for s in info.sources)
    assert info.tied_embeddings is (kind == "llama_tied")
    assert info.metadata["tied_embeddings"] is (kind == "llama_tied")


def test_roles_layers_and_lookup(fixture_model):
    info = read_gguf_model(fixture_model("llama"))
    t = info.tensor("blk.1.ffn_down.weight")
    assert (t.role, t.layer, t.mtp, t.shape) == ("ffn_down", 1, False, (800, 256))
    assert info.tensor("token_embd.weight").layer is None
    assert info.tensor("nope") is None
    assert info.head_count() == 4 and info.head_count_kv() == 2 and info.key_length == 64


def test_qwen35moe_mtp_and_hybrid_layout(fixture_model):
    info = read_gguf_model(fixture_model("qwen35moe"))
    assert (info.block_count, info.nextn_layers, info.trunk_layers) == (3, 1, 2)
    assert info.mtp_layers == (2,)
    mtp = info.mtp_tensors
    assert len(mtp) == 20 and all(t.layer == 2 for t in mtp)
    assert sum(t.role.startswith("nextn.") for t in mtp) == 4
    assert info.recurrent_layers == (0,)
    assert info.full_attention_layers == (1, 2)  # the MTP block is full attention
    assert info.is_hybrid
    assert {t.name for t in info.expert_stacks} >= {"blk.0.ffn_down_exps.weight", "blk.2.ffn_up_exps.weight"}
    assert info.expert_count == 4 and info.expert_used_count == 2
    assert info.ssm == {"conv_kernel": 4, "state_size": 32, "group_count": 4, "time_step_rank": 8,
                        "inner_size": 256}
    a = info.tensor("blk.0.ssm_a")
    assert (a.role, a.type, a.shape) == ("ssm_a", "F32", (8,))
    assert info.tensor("blk.0.ssm_dt.bias").role == "ssm_dt.bias"


def test_deepseek2_mla(fixture_model):
    info = read_gguf_model(fixture_model("deepseek2"))
    assert info.kv_lora_rank == 64
    assert info.tensor("blk.1.attn_k_b.weight").shape == (64, 64, 4)
    assert not info.tensor("blk.1.attn_k_b.weight").is_expert_stack
    assert info.tensor("blk.0.ffn_gate.weight") is not None
    assert info.tensor("blk.1.ffn_gate_exps.weight").is_expert_stack
    assert info.full_attention_layers == (0, 1, 2) and not info.recurrent_layers


def test_split_model_merges_shards(fixture_model):
    first = fixture_model("llama_split")
    info = load_model(first)
    single = load_model(fixture_model("llama"))
    assert [(t.name, t.shape, t.type) for t in info.tensors] == \
        [(t.name, t.shape, t.type) for t in single.tensors]
    assert [s.name for s in info.sources] == [f"llama_split-0000{i}-of-00003.gguf" for i in (1, 2, 3)]


def _split_copy(fixture_model, tmp_path):
    first = fixture_model("llama_split")
    for p in first.parent.glob("llama_split-*.gguf"):
        shutil.copy(p, tmp_path / p.name)
    return tmp_path / first.name


def test_missing_shard_is_named(fixture_model, tmp_path):
    first = _split_copy(fixture_model, tmp_path)
    (tmp_path / "llama_split-00003-of-00003.gguf").unlink()
    with pytest.raises(DiagnosticError) as e:
        read_gguf_model(first)
    d = e.value.diagnostics[0]
    assert d.code == "M102" and "llama_split-00003-of-00003.gguf" in d.message and "missing" in d.message


def test_inconsistent_shard_is_named(fixture_model, tmp_path):
    first = _split_copy(fixture_model, tmp_path)
    shutil.copy(tmp_path / "llama_split-00003-of-00003.gguf", tmp_path / "llama_split-00002-of-00003.gguf")
    with pytest.raises(DiagnosticError) as e:
        read_gguf_model(first)
    assert e.value.diagnostics[0].code == "M102"
    assert "llama_split-00002-of-00003.gguf" in e.value.diagnostics[0].message


def test_later_shard_is_refused(fixture_model):
    second = fixture_model("llama_split").with_name("llama_split-00002-of-00003.gguf")
    with pytest.raises(DiagnosticError) as e:
        read_gguf_model(second)
    assert e.value.diagnostics[0].code == "M102" and "first shard" in e.value.diagnostics[0].message


def test_imatrix_given_as_model(fixture_imatrix):
    with pytest.raises(DiagnosticError) as e:
        load_model(fixture_imatrix("llama"))
    assert e.value.diagnostics[0].code == "M104"


def test_fixture_bytes_are_deterministic(tmp_path):
    a = fixtures.write_model("qwen3moe", tmp_path / "a")
    b = fixtures.write_model("qwen3moe", tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
