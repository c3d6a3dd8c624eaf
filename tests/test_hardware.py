"""The shipped target profiles: names, native types and serve defaults, read from JSON."""

from __future__ import annotations

import json

import pytest

from recipec import hardware
from tests.kit_helpers import ROOT, recipec_cli


def test_profile_names_come_from_the_files_and_match_their_contents():
    assert hardware.profile_names() == ("cpu", "cuda-blackwell", "cuda", "metal", "rocm", "vulkan")  # file order
    assert sorted(hardware.profiles()) == sorted(hardware.profile_names())


def test_native_types_as_written():
    assert hardware.profile("cuda-blackwell").supports("NVFP4")
    assert not hardware.profile("cuda").supports("NVFP4")
    assert hardware.profile("cpu").supports("TQ1_0") and not hardware.profile("vulkan").supports("TQ1_0")
    assert hardware.profile("CUDA").name == "cuda"  # names are matched case-insensitively
    assert hardware.profile("nosuch") is None
    assert hardware.profile("cuda-blackwell").serve == {"ngl": "all", "flash_attn": "on", "cache_type": "q8_0"}


def test_a_profile_named_unlike_its_file_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "profiles"
    folder.mkdir()
    data = json.loads((ROOT / "recipec" / "profiles" / "cuda.json").read_text())
    (folder / "gpu.json").write_text(json.dumps(data))  # says "cuda" inside
    monkeypatch.setattr(hardware, "_profile_files", lambda: sorted(folder.iterdir()))
    hardware.profiles.cache_clear()
    try:
        with pytest.raises(ValueError, match="named 'cuda', not after its file"):
            hardware.profiles()
    finally:
        hardware.profiles.cache_clear()


def test_unknown_target_suggests_from_the_names(tmp_path):
    recipe = tmp_path / "r.recipe"
    recipe.write_text('recipe "t"\nbase Q4_K_M\ntarget cuda-blackwel\n')
    rc, out, err = recipec_cli("lint", str(recipe))
    assert rc == 1
    assert "L012" in out + err and "did you mean `cuda-blackwell`?" in out + err
