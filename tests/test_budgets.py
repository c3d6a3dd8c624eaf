"""Budgets: size, bpw and fit (KV figures by hand), infeasibility, and the MTP policies."""

import pytest

from recipec import kvcache
from recipec.diagnostics import DiagnosticError
from recipec.llamacpp import predict_file_size
from recipec.loaders import load_imatrix, load_model
from recipec.recipe import load
from recipec.resolve import resolve

HEAD = 'recipe "t"\nbase Q4_K_M\nladder Q3_K Q4_K Q5_K Q6_K Q8_0\n'


def _resolve(tmp_path, body, model, imatrix=None):
    p = tmp_path / "r.recipe"
    p.write_text(HEAD + body)
    loaded = load(str(p))
    assert not [d for d in loaded.diagnostics if d.is_error]
    return resolve(loaded.recipe, model, imatrix)


@pytest.fixture(scope="module")
def qwen(fixture_model):
    return load_model(fixture_model("qwen35moe"))


@pytest.fixture(scope="module")
def ds2(fixture_model):
    return load_model(fixture_model("deepseek2"))


def test_fit_kv_hybrid_by_hand(qwen):
    # qwen35moe fixture: block 0 gated delta net, block 1 full attention, block 2 MTP (attention).
    # full: ctx x P x n_head_kv(2) x (64 + 64) elements of q8_0 (34 bytes per 32) per layer
    full = 1024 * 2 * (2 * 128 // 32 * 34)
    # recurrent: F32 conv rows (4-1) x (256 + 2*4*32) plus state 32 x 256, per slot
    rec = 2 * 4 * (3 * (256 + 2 * 4 * 32) + 32 * 256)
    est = kvcache.estimate(qwen, 1024, "Q8_0", 2)
    assert qwen.recurrent_layers == (0,) and qwen.full_attention_layers == (1, 2)
    assert (est.full, est.recurrent, est.mla, est.sliding) == (2 * full, rec, 0, 0)


def test_fit_kv_mla_by_hand(ds2):
    # MLA: only the latent (kv_lora_rank 64 + rope 32) per token and layer, no V cache:
    # 3 blocks x 4096 tokens x 96 elements x 2 bytes (F16)
    est = kvcache.estimate(ds2, 4096, "F16", 1)
    assert est.mla == 3 * 4096 * 96 * 2 and est.full == 0


# The KV cache at ctx 2048, q8_0 (34 bytes per 32 elements), one slot, by hand:
# qwen35moe: 2 attention blocks (1 and the MTP block 2) x 2048 x 2 kv heads x (64 + 64) / 32 x 34
#   = 2 x 2048 x 272 = 1114112, plus the gated-delta-net block 0's F32 state
#   4 x (3 x (256 + 2*4*32) + 32 x 256) = 4 x 9728 = 38912: 1153024 in all;
# deepseek2: 3 MLA blocks x 2048 x ceil(96 / 32) x 34 = 3 x 2048 x 102 = 626688.
KV_2048_Q8_0 = {"qwen35moe": 1_153_024, "deepseek2": 626_688}


@pytest.mark.parametrize("kind", ["qwen35moe", "deepseek2"])
def test_fit_budget_respected(kind, fixture_model, tmp_path):
    model = load_model(fixture_model(kind))
    kv = KV_2048_Q8_0[kind]
    pred = predict_file_size(model, {t.name: "Q8_0" if t.n_elements > 1 << 16 and len(t.shape) > 1 else t.type for t in model.tensors})
    device = pred.bytes // 2 + kv + (1 << 20)
    res = _resolve(tmp_path, f"budget fit {device} B ctx 2048 kv q8_0 overhead 1 MiB\n", model)
    t = res.plan.totals
    assert t.kv_cache_bytes == kv
    assert t.counted_bytes <= device
    assert t.file_bytes + kv + (1 << 20) <= device + (t.file_bytes_slack or 0)


def test_size_budget_lands_close(qwen, tmp_path):
    lo = _resolve(tmp_path, "ceiling * Q3_K\nmtp optimise\n", qwen).plan.totals.file_bytes
    hi = _resolve(tmp_path, "floor * Q8_0\nmtp optimise\n", qwen).plan.totals.file_bytes
    budget = (lo + hi) // 2
    t = _resolve(tmp_path, f"budget {budget} B\nmtp optimise\n", qwen).plan.totals
    assert t.counted_bytes <= budget
    assert t.file_bytes <= budget
    assert t.file_bytes >= budget * 0.995 - 4096  # small fixture: a group is ~kB


def test_bpw_budget(qwen, tmp_path):
    t = _resolve(tmp_path, "budget 5.5 bpw\n", qwen).plan.totals
    assert t.budget_kind == "bpw" and t.counted_bytes <= t.budget_bytes


def test_infeasible_names_floor_and_ceiling_sizes(qwen, tmp_path):
    with pytest.raises(DiagnosticError) as exc:
        _resolve(tmp_path, "budget 1 KiB\n", qwen)
    d = exc.value.diagnostics[0]
    assert d.code == "R304" and d.span.line == 4
    assert any("smallest feasible" in n for n in d.notes) and any("largest useful" in n for n in d.notes)


def test_mtp_keep_outside_budget(qwen, tmp_path):
    res = _resolve(tmp_path, "mtp keep Q6_K outside budget\nbudget 6 bpw\n", qwen)
    mtp = [e for e in res.plan.tensors if e.mtp and e.reason != "not-quantized"]
    assert mtp and all(e.type in ("Q6_K", "Q8_0") and e.reason.startswith("mtp-keep@") for e in mtp)
    assert all(n not in res.plan.problem.groups[0].tensors for n in (e.name for e in mtp))


def test_mtp_drop(qwen, tmp_path):
    res = _resolve(tmp_path, "mtp drop\n", qwen)
    assert not any(e.mtp for e in res.plan.tensors)
    args = res.plan.llama_quantize.args
    assert "--prune-layers" in args and args[args.index("--prune-layers") + 1] == "2"
    assert "qwen35moe.nextn_predict_layers=int:0" in args
    assert res.plan.mtp.bytes == 0


def test_mtp_optimise_floor_and_imatrix_types(qwen, fixture_imatrix, tmp_path):
    im = load_imatrix(fixture_imatrix("qwen35moe"), qwen)
    # with a budget the candidates are the ladder's (without one, tensors start at the stock mix)
    res = _resolve(tmp_path, "ladder IQ2_XS Q4_K Q5_K Q6_K\nbudget 8 bpw\nmtp optimise floor Q5_K\n", qwen, im)
    for name, r in res.tensors.items():
        if r.tensor.mtp and r.quantized:
            assert all(c.requested != "IQ2_XS" for c in r.candidates)
            assert res.plan.tensor(name).type in ("Q5_K", "Q6_K", "Q8_0")
    res = _resolve(tmp_path, "ladder IQ2_XS Q4_K Q5_K Q6_K\nbudget 8 bpw\nmtp optimise\n", qwen, im)
    assert any(d.code == "R306" for d in res.diagnostics)
    assert all("IQ2_XS" not in {c.requested for c in r.candidates} for r in res.tensors.values() if r.tensor.mtp)
