"""Corrupted and truncated inputs give diagnostics, never another exception (property tests)."""

import struct
from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from recipec import fixtures
from recipec.diagnostics import DiagnosticError
from recipec.loaders import load_imatrix, load_model


def _tiny_model(path: Path) -> bytes:
    """A small llama-layout GGUF (tiny dims, 8-token vocab) so each case parses in milliseconds."""
    w = gguf.GGUFWriter(path, "llama")
    for key, v in (("context_length", 64), ("embedding_length", 32), ("block_count", 1),
                   ("feed_forward_length", 40), ("attention.head_count", 2)):
        w.add_uint32(f"llama.{key}", v)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_array("llama.attention.head_count_kv", [2])
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["a", "b", "c", "ab", "bc", "abc", "<s>", "</s>"])
    w.add_token_merges(["a b", "b c"])
    for name, shape in (("token_embd.weight", (8, 32)), ("blk.0.attn_norm.weight", (32,)),
                        ("blk.0.attn_q.weight", (32, 32)), ("blk.0.ffn_down.weight", (32, 40)),
                        ("output.weight", (8, 32))):
        w.add_tensor(name, np.ones(shape, np.float16 if len(shape) > 1 else np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    model = _tiny_model(d / "tiny.gguf")
    info = load_model(d / "tiny.gguf")
    entries = {n: v for n, v in fixtures.imatrix_entries(info).items()}
    gguf_imatrix = fixtures.write_imatrix("tiny", info, d / "tiny.imatrix.gguf").read_bytes()
    dat = fixtures.dat_bytes(entries, 4, 512, "calibration.txt")
    header = info.sources[0].data_offset
    return {"dir": d, "model": (model, header), "imatrix": (gguf_imatrix, len(gguf_imatrix)),
            "dat": (dat, len(dat))}


def _check(samples, kind: str, data: bytes) -> None:
    path = samples["dir"] / f"case.{kind}"
    path.write_bytes(data)
    try:
        if kind == "model":
            load_model(path)
        else:
            load_imatrix(path)
    except DiagnosticError as exc:
        assert exc.diagnostics and str(path) in exc.diagnostics[0].message


def _mutate(data: bytes, edits: list[tuple[float, int]], header: int) -> bytes:
    buf = bytearray(data)
    for where, value in edits:
        buf[min(int(where * header), len(buf) - 1)] = value
    return bytes(buf)


KINDS = st.sampled_from(["model", "imatrix", "dat"])
# A numpy warning means arithmetic ran on values a reader had not checked yet (inf - inf in a mean).
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@settings(max_examples=450)
@given(kind=KINDS, cut=st.floats(0, 1, allow_nan=False), near_header=st.booleans())
def test_truncation_anywhere(samples, kind, cut, near_header):
    data, header = samples[kind]
    limit = min(header + 64, len(data)) if near_header else len(data)
    _check(samples, kind, data[: int(cut * limit)])


@settings(max_examples=600)
@given(kind=KINDS, edits=st.lists(st.tuples(st.floats(0, 1, allow_nan=False, exclude_max=True),
                                            st.sampled_from([0, 1, 2, 3, 7, 8, 13, 0x7F, 0x80, 0xFE, 0xFF])),
                                  min_size=1, max_size=6))
def test_corrupted_bytes(samples, kind, edits):
    data, header = samples[kind]
    _check(samples, kind, _mutate(data, edits, header))


def test_the_samples_are_valid(samples):
    for kind in ("model", "imatrix", "dat"):
        _check(samples, kind, samples[kind][0])
    load_model(samples["dir"] / "case.model")


def _gguf(kvs: list[tuple[bytes, bytes]], n_tensors: int = 0) -> bytes:
    b = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kvs))
    for key, body in kvs:
        b += struct.pack("<Q", len(key)) + key + body
    return b


@pytest.mark.parametrize("data, needle", [
    (b"GGUF", "truncated in the header"),
    (b"GGML" + b"\0" * 20, "wrong magic"),
    (b"GGUF" + struct.pack("<IQQ", 7, 0, 0), "unsupported GGUF version 7"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 2 ** 63), "absurd metadata count"),
    (b"GGUF" + struct.pack("<IQQ", 3, 2 ** 40, 0), "absurd tensor count"),
    (_gguf([(b"a", struct.pack("<IIQ", 9, 0, 2 ** 62))]), "absurd array length"),
    (_gguf([(b"a", struct.pack("<IIQ", 9, 8, 2 ** 40) + b"\0" * 64)]), "absurd array length"),
    (_gguf([(b"a", struct.pack("<I", 99))]), "GGUFValueType"),
    (_gguf([(b"general.architecture", struct.pack("<IQ", 8, 2 ** 50) + b"llama")]), "truncated in the metadata"),
    (_gguf([], 1) + struct.pack("<Q", 1) + b"t" + struct.pack("<I", 9) + b"\0" * 100, "dimensions"),
    (_gguf([], 1) + struct.pack("<Q", 1) + b"t" + struct.pack("<IQQ", 2, 4, 0) + b"\0" * 100, "absurd dimensions"),
    (_gguf([], 1) + struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 4, 0, 10 ** 9), "tensor data"),
])
def test_crafted_headers(tmp_path, data, needle):
    p = tmp_path / "x.gguf"
    p.write_bytes(data)
    for load, code in ((load_model, "M101"), (load_imatrix, "I101")):
        with pytest.raises(DiagnosticError) as e:
            load(p)
        d = e.value.diagnostics[0]
        assert d.code == code and str(p) in d.message and needle in d.message, d.message
