"""Hostile model, imatrix and manifest inputs (issue 15): each becomes a diagnostic with a code, never
an internal error, a traceback, a memory blow-up or a silently wrong plan.

The first part reproduces each reported problem through the command line. The second runs a
generated corpus (>= 1,000 cases: metadata of wrong types and huge/negative/NaN values, bit flips and
truncations, JSON variants with deep nesting and huge numbers) in-process inside one subprocess
limited to 1 GB of address space, each case under a time limit. RECIPEC_HEAVY=1 runs 10x more:

    RECIPEC_HEAVY=1 python -m pytest -q tests/test_hostile_inputs.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator

import gguf
import numpy as np
import pytest

from recipec import fixtures
from recipec.cli import run

ROOT = Path(__file__).resolve().parent.parent
HEAVY = bool(os.environ.get("RECIPEC_HEAVY"))
MEMORY_LIMIT = 1 << 30  # bytes of address space for the subprocesses
CASE_SECONDS = 10  # the per-case bound
CODE = re.compile(r"(?:^|: )([A-WYZ][0-9]{3}) ", re.M)  # a diagnostic headline with a code that is not X
RECIPE = ('recipe "hostile"\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\n'
          "budget fit 64 MiB ctx 4096 kv q8_0\nmtp keep Q8_0\n")
T = gguf.GGUFValueType


def _cli(*argv: str) -> tuple[int, str, str]:
    """recipec ARGV in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = run([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _limited_cli(*argv: str, timeout: float = 120) -> tuple[int, str]:
    """recipec ARGV in a subprocess limited to 1 GB: (exit code, stderr); a regression that
    exhausts memory then fails this test instead of the machine."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "recipec", *map(str, argv)], cwd=ROOT, env=env,
                       preexec_fn=_limit, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def _assert_diagnostic(rc: int, err: str, code: str, *needles: str) -> None:
    assert rc == 2, (rc, err)
    assert "X001" not in err and "Traceback" not in err, err
    assert code in CODE.findall(err), err
    for needle in needles:
        assert needle in err, (needle, err)


# --- writing inputs ------------------------------------------------------------------------------

def write_gguf(path: Path, arch: str | None, kv: dict[str, tuple[Any, T, T | None]],
               tensors: list[tuple[str, tuple[int, ...]]]) -> Path:
    """A model GGUF with metadata KV (key -> (value, type, item type)) and TENSORS (ggml shapes,
    F16/F32 as the converter stores them) whose data region is left sparse (zeros)."""
    w = gguf.GGUFWriter(path, arch or "llama")
    w.kv_data[0].clear()
    if arch is not None:
        w.add_key_value(gguf.Keys.General.ARCHITECTURE, arch, T.STRING)
    for key, (value, vtype, sub) in kv.items():
        w.add_key_value(key, value, vtype, sub)
    total = 0
    for name, shape in tensors:
        dtype = np.float16 if fixtures.source_type(name, shape) == "F16" else np.float32
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        w.add_tensor_info(name, tuple(reversed(shape)), np.dtype(dtype), nbytes)
        total += -(-nbytes // 32) * 32
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size + total + 64)  # + the padding before the data
    return path


def _typed(value: Any) -> tuple[Any, T, T | None]:
    if isinstance(value, bool):
        return value, T.BOOL, None
    if isinstance(value, int):
        return value, T.UINT32, None
    if isinstance(value, float):
        return value, T.FLOAT32, None
    if isinstance(value, str):
        return value, T.STRING, None
    return list(value), T.ARRAY, T.UINT32


def model_kv(kind: str = "qwen35moe") -> tuple[str, dict[str, tuple[Any, T, T | None]], list]:
    """(arch, typed metadata, tensors) of a fixture model, ready for write_gguf."""
    arch, kv, tensors = fixtures.model_spec(kind)
    typed = {f"{arch}.{k}": _typed(v) for k, v in kv.items()}
    typed["general.file_type"] = (1, T.UINT32, None)
    return arch, typed, tensors


def _gguf_with(tmp: Path, name: str, **changes: tuple[Any, T, T | None] | None) -> Path:
    arch, kv, tensors = model_kv()
    for key, v in changes.items():
        key = key.replace("__", ".")
        full = key if key.startswith(("general.", "split.")) else f"{arch}.{key}"
        if v is None:
            kv.pop(full, None)
        else:
            kv[full] = v
    return write_gguf(tmp / name, arch, kv, tensors)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, Path]:
    """A qwen35moe model (GGUF, manifest), its imatrix (GGUF, summary) and a recipe with a fit budget."""
    d = tmp_path_factory.mktemp("hostile")
    arch, kv, tensors = model_kv()
    model = write_gguf(d / "model.gguf", arch, kv, tensors)
    rc, _, err = _cli("inspect", model, "-o", d / "model.json")
    assert rc == 0, err
    imatrix = fixtures.write_imatrix("qwen35moe", model, d / "imatrix.gguf", nextn=True)
    rc, _, err = _cli("inspect", imatrix, "-o", d / "imatrix.json")
    assert rc == 0, err
    (d / "r.recipe").write_text(RECIPE)
    rc, _, err = _cli("compile", d / "r.recipe", "--model", d / "model.json", "--imatrix", d / "imatrix.json",
                      "-o", d / "out")
    assert rc == 0, err
    return {"dir": d, "model": model, "manifest": d / "model.json", "imatrix": imatrix,
            "summary": d / "imatrix.json", "recipe": d / "r.recipe"}


# --- each reported problem -----------------------------------------------------------------------

@pytest.mark.parametrize("metadata, needle", [
    ({"block_count": 4294967295}, "block_count = 4294967295: out of range (0 to 65535)"),
    ({"block_count": 10 ** 12, "nextn_predict_layers": 10 ** 12 - 2}, "block_count = 1000000000000"),
    ({"nextn_predict_layers": 10 ** 12}, "nextn_predict_layers = 1000000000000: out of range"),
    ({"block_count": 40}, "block_count = 40: the file has tensors for blocks 0 to 2 only"),
    ({"nextn_predict_layers": 3}, "nextn_predict_layers = 3: leaves no trunk block (block_count = 3)"),
])
def test_huge_block_counts_in_a_manifest(base, metadata, needle):
    data = json.loads(base["manifest"].read_text())
    data["metadata"].update(metadata)
    p = base["dir"] / "huge.json"
    p.write_text(json.dumps(data))
    rc, err = _limited_cli("compile", base["recipe"], "--model", p, "-o", base["dir"] / "o-huge")
    _assert_diagnostic(rc, err, "M109", f"{p}: metadata {needle}")


@pytest.mark.parametrize("changes, needle", [
    ({"block_count": (4294967295, T.UINT32, None)}, "qwen35moe.block_count = 4294967295: out of range"),
    ({"block_count": (10 ** 12, T.UINT64, None), "nextn_predict_layers": (10 ** 12 - 1, T.UINT64, None)},
     "qwen35moe.block_count = 1000000000000"),
    ({"nextn_predict_layers": (10 ** 12, T.UINT64, None)}, "qwen35moe.nextn_predict_layers = 1000000000000"),
    ({"block_count": (-1, T.INT32, None)}, "qwen35moe.block_count = -1: out of range"),
])
def test_huge_block_counts_in_a_gguf(base, changes, needle):
    p = _gguf_with(base["dir"], "huge.gguf", **changes)
    for argv in (("inspect", p), ("compile", base["recipe"], "--model", p, "-o", base["dir"] / "o-huge")):
        rc, err = _limited_cli(*argv)
        _assert_diagnostic(rc, err, "M109", f"{p}: metadata {needle}")


@pytest.mark.parametrize("key, value, needle", [
    ("block_count", ("3", T.STRING, None), "block_count = '3': must be an integer"),
    ("attention__head_count", (float("nan"), T.FLOAT32, None), "attention.head_count = nan: must be an integer"),
    ("context_length", ([8192, 8192], T.ARRAY, T.UINT32), "context_length = [8192, 8192]: must be a single"),
    ("attention__head_count_kv", (["2"], T.ARRAY, T.STRING), "attention.head_count_kv = ['2']: must be an integer"),
    ("expert_count", (True, T.BOOL, None), "expert_count = True: must be an integer"),
    ("general__file_type", (1.5, T.FLOAT64, None), "general.file_type = 1.5: must be an integer"),
])
def test_metadata_of_the_wrong_type_in_a_gguf(base, key, value, needle):
    p = _gguf_with(base["dir"], "typed.gguf", **{key: value})
    rc, _, err = _cli("inspect", p)
    _assert_diagnostic(rc, err, "M109", needle)


@pytest.mark.parametrize("key, value, code, needle", [
    ("split__count", ("3", T.STRING, None), "M102", "split.count = '3' is not a shard number"),
    ("split__no", (-1, T.INT32, None), "M102", "split.no = -1 is not a shard number"),
    ("general__alignment", (0, T.UINT32, None), "M101", "alignment"),
    ("general__alignment", (7, T.UINT64, None), "M101", "alignment"),
    ("general__architecture", ([1], T.ARRAY, T.UINT32), "M104", "no general.architecture"),
])
def test_header_keys_of_the_wrong_type(base, key, value, code, needle):
    p = _gguf_with(base["dir"], "typed.gguf", **{key: value})
    rc, _, err = _cli("compile", base["recipe"], "--model", p, "-o", base["dir"] / "o-typed")
    _assert_diagnostic(rc, err, code, needle)


@pytest.mark.parametrize("key, raw, code, needle", [
    ("source", '"model.gguf"', "M103", "source must be an object whose files are a list"),
    ("source", '{"files": {"name": "x"}}', "M103", "source must be an object whose files are a list"),
    ("source", '{"files": [{"name": "x", "size": 1e3}]}', "M103", "source size must be an integer"),
    ("source", '{"files": [{"name": "x", "header_sha256": 5}]}', "M103", "header_sha256 must be a string"),
    ("alignment", "NaN", "M103", "NaN is not a JSON number"),
    ("alignment", "1e999", "M103", "the number 1e999 is out of range"),
    ("alignment", "1" + "0" * 5000, "M103", "not valid JSON"),
    ("alignment", "-Infinity", "M103", "-Infinity is not a JSON number"),
    ("alignment", "[" * 100_000 + "]" * 100_000, "M103", "JSON nested too deeply"),
    ("alignment", "[" * 500 + "]" * 500, "M103", "alignment must be an integer"),
    ("metadata", '{"block_count": ' + "[" * 500 + "]" * 500 + "}", "M109", "must be a single integer"),
    ("tensors", '[{"name": "blk.0.attn_q.weight", "shape": [1e40], "type": "F16"}]', "M103",
     "a dimension must be an integer"),
    ("tensors", '[{"name": "blk.0.attn_q.weight", "shape": [1099511627777], "type": "F16"}]', "M103",
     "a dimension must be an integer from 1 to 1099511627776"),
])
def test_malformed_manifests(base, key, raw, code, needle):
    data = json.loads(base["manifest"].read_text())
    data[key] = "@@RAW@@"
    p = base["dir"] / "bad.json"
    p.write_text(json.dumps(data).replace('"@@RAW@@"', raw))
    rc, _, err = _cli("compile", base["recipe"], "--model", p, "-o", base["dir"] / "o-bad")
    _assert_diagnostic(rc, err, code, f"{p}: ", needle)


def test_metadata_numbers_in_a_manifest_must_be_finite(base):
    src = base["manifest"].read_text()
    assert '"context_length": 8192' in src
    p = base["dir"] / "nan.json"
    p.write_text(src.replace('"context_length": 8192', '"context_length": NaN'))
    rc, _, err = _cli("compile", base["recipe"], "--model", p, "-o", base["dir"] / "o-nan")
    _assert_diagnostic(rc, err, "M103", "NaN is not a JSON number")
    p.write_text(src.replace('"context_length": 8192', '"context_length": 8192.5'))
    rc, _, err = _cli("compile", base["recipe"], "--model", p, "-o", base["dir"] / "o-nan")
    _assert_diagnostic(rc, err, "M109", "context_length = 8192.5: must be an integer")


def test_paths_that_are_not_utf8(base):
    d = os.fsencode(base["dir"])
    model, summary = (os.fsdecode(d + name) for name in (b"/model-\xff.json", b"/imatrix-\xfe.json"))
    Path(model).write_bytes(base["manifest"].read_bytes())  # what Python makes of such an argument: '\udcff'
    Path(summary).write_bytes(base["summary"].read_bytes())
    for argv, code in ((("inspect", model), "U002"),
                       (("compile", base["recipe"], "--model", model, "-o", base["dir"] / "o-u8"), "M101"),
                       (("inspect", base["summary"], "--model", model), "M101")):
        rc, _, err = _cli(*argv)
        _assert_diagnostic(rc, err, code, "model-\\xff.json: the file name is not valid UTF-8")
    for argv, code in ((("inspect", summary), "U002"),
                       (("compile", base["recipe"], "--model", base["manifest"], "--imatrix", summary,
                         "-o", base["dir"] / "o-u8"), "I101")):
        rc, _, err = _cli(*argv)
        _assert_diagnostic(rc, err, code, "imatrix-\\xfe.json: the file name is not valid UTF-8")


@pytest.mark.parametrize("value, code, needle", [
    ("NaN", "I106", "NaN is not a JSON number"),
    ("Infinity", "I106", "Infinity is not a JSON number"),
    ("1e999", "I106", "the number 1e999 is out of range"),
    ("-0.5", "I103", "importance holds -0.5; every value must be a finite number >= 0"),
    ('"0.5"', "I103", "importance holds '0.5'"),
])
def test_imatrix_summary_importances_must_be_finite(base, value, code, needle):
    data = json.loads(base["summary"].read_text())
    name = "blk.0.ffn_down_exps.weight"
    n = len(data["tensors"][name]["importance"])
    text = json.dumps(data).replace(json.dumps(data["tensors"][name]["importance"]),
                                    "[" + ", ".join([value] * n) + "]", 1)
    p = base["dir"] / "nan.imatrix.json"
    p.write_text(text)
    rc, _, err = _cli("compile", base["recipe"], "--model", base["manifest"], "--imatrix", p,
                      "-o", base["dir"] / "o-imat")
    _assert_diagnostic(rc, err, code, f"{p}: ", needle)


def test_imatrix_summary_counts_and_fields(base):
    data = json.loads(base["summary"].read_text())
    row = data["tensors"]["blk.0.ffn_down_exps.weight"]
    for field, value, needle in (("counts", [-1.0] * len(row["counts"]), "counts holds -1.0"),
                                 ("ne0", "256", "needs ne0 (an integer)"),
                                 ("fingerprint", None, "fingerprint (a string)")):
        p = base["dir"] / "bad.imatrix.json"
        p.write_text(json.dumps({**data, "tensors": {**data["tensors"],
                                                     "blk.0.ffn_down_exps.weight": {**row, field: value}}}))
        rc, _, err = _cli("inspect", p)
        assert rc == 2 and "X001" not in err and needle in err, err
    p.write_text(json.dumps({**data, "chunk_count": -4}))
    rc, _, err = _cli("inspect", p)
    _assert_diagnostic(rc, err, "I106", "chunk_count must be an integer >= 0, got -4")


def _split_model(tmp: Path, name: str, count: int, tensors_count: int | None) -> Path:
    arch, kv, tensors = model_kv()
    kv["split.no"] = (0, T.UINT16, None)
    kv["split.count"] = (count, T.UINT16, None)
    if tensors_count is not None:
        kv["split.tensors.count"] = (tensors_count, T.INT32, None)
    return write_gguf(tmp / name, arch, kv, tensors[:8])


def test_a_first_shard_that_claims_to_be_the_only_one(base):
    _, _, tensors = model_kv()
    p = _split_model(base["dir"], "model-00001-of-00003.gguf", 1, len(tensors))
    rc, _, err = _cli("compile", base["recipe"], "--model", p, "-o", base["dir"] / "o-split")
    _assert_diagnostic(rc, err, "M102", "the name says shard 1 of 3, but split.count is 1")
    p = _split_model(base["dir"], "model.gguf.part", 1, len(tensors))
    rc, _, err = _cli("inspect", p)
    _assert_diagnostic(rc, err, "M102", f"split.tensors.count is {len(tensors)} but the file holds 8 tensors")
    p = _split_model(base["dir"], "model-00001-of-00001.gguf", 1, 8)
    rc, _, err = _cli("inspect", p)
    assert rc == 2 and "M102" not in err and "M109" in err, err  # the split keys agree; block 2 is missing


def test_a_real_split_model_still_loads(tmp_path):
    first = fixtures.write_model("llama_split", tmp_path)
    rc, out, err = _cli("inspect", first)
    assert rc == 0, err
    assert len(json.loads(out)["tensors"]) == len(fixtures.model_spec("llama_split")[2])


@pytest.mark.parametrize("name, code, needle", [
    ("blk.99999999999.attn_q.weight", "M109", "block_count = 100000000000: out of range (0 to 65535)"),
    ("blk." + "9" * 5000 + ".attn_q.weight", "M103", "a name of more than 63 bytes"),
])
def test_block_numbers_in_tensor_names(tmp_path, name, code, needle):
    """Without a block_count key the count comes from the names, within the same limits."""
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"schema": "recipec.manifest/1", "arch": "llama", "metadata": {},
                             "tensors": [{"name": name, "shape": [32, 32], "type": "F16"}]}))
    (tmp_path / "r.recipe").write_text(RECIPE)
    rc, _, err = _cli("compile", tmp_path / "r.recipe", "--model", p, "-o", tmp_path / "o")
    _assert_diagnostic(rc, err, code, needle)
    if code == "M109":
        g = write_gguf(tmp_path / "m.gguf", "llama", {}, [(name, (32, 32))])
        rc, _, err = _cli("inspect", g)
        _assert_diagnostic(rc, err, code, needle)


def test_a_tensor_name_longer_than_llama_cpp_reads(tmp_path):
    g = write_gguf(tmp_path / "m.gguf", "llama", {}, [("blk.0." + "a" * 60 + ".weight", (32, 32))])
    rc, _, err = _cli("inspect", g)
    _assert_diagnostic(rc, err, "M101", "a tensor name of 73 bytes (llama.cpp reads at most 63)")


def test_devices_and_fifos_are_refused(base, tmp_path):
    """/dev/zero never ends and a FIFO blocks its reader: both are refused before any read (in a
    limited subprocess, so a regression fails instead of hanging or filling the memory)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for argv, code in ((("inspect", "/dev/zero"), "U002"), (("inspect", fifo), "U002"),
                       (("compile", base["recipe"], "--model", fifo, "-o", tmp_path / "o"), "M101"),
                       (("compile", base["recipe"], "--model", base["manifest"], "--imatrix", "/dev/zero",
                         "-o", tmp_path / "o"), "I101")):
        rc, err = _limited_cli(*argv, timeout=60)
        _assert_diagnostic(rc, err, code, "not a regular file (a device, FIFO or socket)")


def test_counts_past_the_documented_limits(tmp_path):
    from recipec.gguffile import MAX_TENSORS
    from recipec.loaders.limits import MAX_JSON_BYTES

    assert (MAX_TENSORS, MAX_JSON_BYTES) == (262_144, 32 << 20)  # the numbers README's "Limits" states
    p = tmp_path / "many.gguf"
    n = MAX_TENSORS + 1
    p.write_bytes(b"GGUF" + np.array([3], "<u4").tobytes() + np.array([n, 0], "<u8").tobytes())
    with open(p, "r+b") as fh:
        fh.truncate(24 + 24 * n)  # room for every tensor info, so the count alone is refused
    rc, _, err = _cli("inspect", p)
    _assert_diagnostic(rc, err, "M101", f"{n} tensors: more than the 262144 recipec reads in one file")
    big = tmp_path / "big.json"
    with open(big, "w") as fh:
        fh.write('{"schema": "recipec.manifest/1", "pad": "')
        fh.truncate(MAX_JSON_BYTES + 1)
    (tmp_path / "r.recipe").write_text(RECIPE)
    rc, _, err = _cli("compile", tmp_path / "r.recipe", "--model", big, "-o", tmp_path / "o")
    _assert_diagnostic(rc, err, "M103", f"{big}: larger than 32 MiB")
    rows = [{"name": f"t{i}", "shape": [1], "type": "F32"} for i in range(n)]
    big.write_text(json.dumps({"schema": "recipec.manifest/1", "arch": "llama", "tensors": rows}))
    rc, _, err = _cli("inspect", big)
    _assert_diagnostic(rc, err, "M103", f"{n} tensors: more than the 262144 recipec reads")


def test_infinite_sums_are_refused_without_a_numpy_warning():
    """in_sum2 holding +inf and -inf made the mean (inf - inf) warn before the check refused it."""
    from recipec.diagnostics import DiagnosticError
    from recipec.imatrix import tensor_stats

    s2 = np.ones((2, 8), np.float32)
    s2[0, 0], s2[0, 1] = np.inf, -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DiagnosticError) as e:
            tensor_stats("w", s2, np.array([4.0, 4.0]))
    assert e.value.diagnostics[0].code == "I103" and "non-finite" in e.value.diagnostics[0].message


# --- the generated corpus ------------------------------------------------------------------------

CORPUS_CASES = 10_000 if HEAVY else 1_100
_HUGE_JSON = ["4294967295", "1000000000000", "18446744073709551616", "-1", "1e30", "1" + "0" * 400,
              "1" + "0" * 5000, "NaN", "Infinity", "-Infinity", "1e999", "-0.0", "0.5", '"12"', '""',
              "true", "null", "[]", "[1, 2]", "[[1]]", '{"a": 1}', "[" * 50_000 + "]" * 50_000,
              "[" * 900 + "]" * 900, '"\\ud800"', "0", "1", "2", "3", "65535", "65536", "4096"]
_GGUF_VALUES = [(4294967295, T.UINT32, None), (10 ** 12, T.UINT64, None), (2 ** 64 - 1, T.UINT64, None),
                (-1, T.INT32, None), (-2 ** 63, T.INT64, None), (0, T.UINT32, None), (65536, T.UINT32, None),
                (float("nan"), T.FLOAT32, None), (float("inf"), T.FLOAT64, None), (1e300, T.FLOAT64, None),
                ("12", T.STRING, None), ("", T.STRING, None), (True, T.BOOL, None), (3, T.UINT16, None),
                ([1, 2, 3], T.ARRAY, T.UINT32), ([-1] * 9, T.ARRAY, T.INT32), (["a", "b"], T.ARRAY, T.STRING),
                ([10 ** 12] * 3, T.ARRAY, T.UINT64), ([1.5, float("nan")], T.ARRAY, T.FLOAT32)]
# The keys that size per-layer tables (what made memory run out): chosen half of the time.
_HOT_KEYS = ["block_count", "nextn_predict_layers", "attention.head_count_kv", "attention.recurrent_layers",
             "full_attention_interval", "context_length"]
_GGUF_KEYS = ["block_count", "nextn_predict_layers", "context_length", "embedding_length",
              "attention.head_count", "attention.head_count_kv", "attention.key_length", "expert_count",
              "expert_used_count", "full_attention_interval", "rope.dimension_sections", "ssm.state_size",
              "ssm.conv_kernel", "ssm.inner_size", "vocab_size", "general.alignment", "general.file_type",
              "general.architecture", "general.type", "split.count", "split.no", "split.tensors.count",
              "attention.recurrent_layers", "attention.sliding_window", "imatrix.chunk_count"]


def _nodes(data: Any, path: tuple = ()) -> Iterator[tuple]:
    """Paths to every value of a JSON document (dict keys and list indexes)."""
    yield path
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        yield from _nodes(v, path + (k,))


def _json_variant(rng: random.Random, data: Any, nodes: list[tuple]) -> str:
    """DATA with one to three values replaced by hostile JSON text (or removed), or its text cut."""
    data = json.loads(json.dumps(data))
    raws = []
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(nodes)
        if not path:
            continue
        parent = data
        try:
            for k in path[:-1]:
                parent = parent[k]
            if isinstance(parent, dict) and rng.random() < 0.15:
                parent.pop(path[-1], None)
                continue
            raws.append(rng.choice(_HUGE_JSON))
            parent[path[-1]] = f"@@RAW{len(raws) - 1}@@"
        except (KeyError, IndexError, TypeError):
            continue
    text = json.dumps(data)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', raw)
    r = rng.random()
    if r < 0.08:
        text = text[: rng.randrange(len(text))]
    elif r < 0.12:
        text = "\ufeff" + text
    return text


def _flip(rng: random.Random, data: bytes, region: int) -> bytes:
    """DATA with a few bytes changed inside the first REGION bytes, or cut short."""
    if rng.random() < 0.3:
        return data[: rng.randrange(min(len(data), region + 64))]
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        buf[rng.randrange(min(region, len(buf)))] = rng.choice([0, 1, 2, 7, 8, 9, 13, 0x7F, 0x80, 0xFE, 0xFF,
                                                                rng.randrange(256)])
    return bytes(buf)


def _gguf_case(rng: random.Random, d: Path, n: int) -> Path:
    arch, kv, tensors = model_kv()
    for _ in range(rng.randint(1, 2)):
        key = rng.choice(_HOT_KEYS if rng.random() < 0.5 else _GGUF_KEYS)
        full = key if key.startswith(("general.", "split.", "imatrix.")) else f"{arch}.{key}"
        if rng.random() < 0.1:
            kv.pop(full, None)
        else:
            kv[full] = rng.choice(_GGUF_VALUES)
    if rng.random() < 0.1:
        tensors = tensors[: rng.randrange(len(tensors))]
    return write_gguf(d / f"case{n % 7}.gguf", arch, kv, tensors)


def generate_cases(seed: int, count: int, files: dict[str, Path]) -> Iterator[tuple[str, list[str]]]:
    """COUNT (label, argv) cases over the base FILES, deterministic for SEED; inputs are written
    into files["dir"] just before their case runs."""
    rng = random.Random(seed)
    d = files["dir"]
    manifest, summary = (json.loads(files[k].read_text()) for k in ("manifest", "summary"))
    m_nodes, s_nodes = list(_nodes(manifest)), list(_nodes(summary))
    blobs = {k: files[k].read_bytes() for k in ("model", "imatrix")}
    from recipec.loaders import load_model

    header = load_model(files["model"]).sources[0].data_offset  # model: flip the header; imatrix: anywhere
    regions = {"model": header, "imatrix": len(blobs["imatrix"])}
    compile_ = ["compile", str(files["recipe"]), "-o", str(d / "out")]
    for n in range(count):
        kind = ("gguf-metadata", "gguf-bytes", "manifest", "summary", "imatrix-bytes")[n % 5]
        if kind == "gguf-metadata":
            p = _gguf_case(rng, d, n)
            yield kind, (compile_ + ["--model", str(p)] if rng.random() < 0.5 else ["inspect", str(p)])
        elif kind in ("gguf-bytes", "imatrix-bytes"):
            src = "model" if kind == "gguf-bytes" else "imatrix"
            p = d / f"case{n % 7}.{src}.gguf"
            p.write_bytes(_flip(rng, blobs[src], regions[src]))
            yield kind, ["inspect", str(p)]
        elif kind == "manifest":
            p = d / f"case{n % 7}.json"
            r = rng.random()
            nodes = (m_nodes if r < 0.4 else [n for n in m_nodes if n[:1] == ("metadata",)] if r < 0.7
                     else [("metadata", k) for k in _HOT_KEYS])
            p.write_text(_json_variant(rng, manifest, nodes))
            yield kind, (compile_ + ["--model", str(p)] if rng.random() < 0.6 else ["inspect", str(p)])
        else:
            p = d / f"case{n % 7}.imatrix.json"
            p.write_text(_json_variant(rng, summary, s_nodes))
            yield kind, (compile_ + ["--model", str(files["manifest"]), "--imatrix", str(p)]
                         if rng.random() < 0.6 else ["inspect", str(p), "--model", str(files["manifest"])])


class _CaseTimeout(BaseException):
    """Raised by the alarm when one case runs past CASE_SECONDS (not an Exception: passes recipec's
    last line of defence)."""


def _on_alarm(signum, frame):
    raise _CaseTimeout()


def run_corpus(seed: int, count: int, files: dict[str, Path]) -> dict[str, Any]:
    """Run every generated case in-process; return the outcome counts and the failures (internal
    errors, tracebacks, exit codes outside the contract, failures without a code, timeouts)."""
    signal.signal(signal.SIGALRM, _on_alarm)
    outcomes: dict[str, int] = {}
    failures: list[str] = []
    for n, (kind, argv) in enumerate(generate_cases(seed, count, files)):
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            rc, _, err = _cli(*argv)
        except _CaseTimeout:
            rc, err = -1, f"timeout after {CASE_SECONDS} s"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        codes = sorted(set(CODE.findall(err)))
        bad = (rc not in (0, 1, 2) or "X00" in err or "Traceback" in err or (rc != 0 and not codes))
        if bad:
            failures.append(f"case {n} ({kind}) {argv[1:]}: exit {rc}: {err.strip()[:300]}")
        key = f"{kind} exit {rc} {','.join(codes[:1]) or '-'}"
        outcomes[key] = outcomes.get(key, 0) + 1
    return {"cases": count, "outcomes": dict(sorted(outcomes.items())), "failures": failures}


def _child(workdir: str, seed: str, count: str) -> None:
    """Entry point of the limited subprocess: build the base files, run the corpus, print JSON."""
    import logging

    logging.getLogger("gguf").setLevel(logging.ERROR)
    d = Path(workdir)
    arch, kv, tensors = model_kv()
    model = write_gguf(d / "model.gguf", arch, kv, tensors)
    imatrix = fixtures.write_imatrix("qwen35moe", model, d / "imatrix.gguf", nextn=True)
    for src, out in ((model, "model.json"), (imatrix, "imatrix.json")):
        rc, _, err = _cli("inspect", src, "-o", d / out)
        assert rc == 0, err
    (d / "r.recipe").write_text(RECIPE)
    files = {"dir": d, "model": model, "imatrix": imatrix, "manifest": d / "model.json",
             "summary": d / "imatrix.json", "recipe": d / "r.recipe"}
    print(json.dumps(run_corpus(int(seed), int(count), files)))


def test_generated_hostile_inputs(tmp_path):
    """>= 1,000 corrupted models, manifests, imatrices and summaries: each exits 0, 1 or 2 with a coded
    diagnostic, within CASE_SECONDS, the whole batch within 1 GB of address space."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from tests.test_hostile_inputs import _child; _child(*sys.argv[2:])")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", code, str(ROOT), str(tmp_path), "15", str(CORPUS_CASES)],
                       cwd=tmp_path, env=env, preexec_fn=_limit, capture_output=True, text=True,
                       timeout=3600 if HEAVY else 600)
    assert p.returncode == 0, p.stderr[-3000:]
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert report["cases"] >= 1000
    assert report["failures"] == [], "\n".join(report["failures"][:20])
    outcomes = report["outcomes"]
    # The corpus reaches what it is meant to: successes and each reader's refusals.
    for needle in ("exit 0", "M101", "M103", "M109", "I101", "I106"):
        assert any(needle in k for k in outcomes), (needle, outcomes)
