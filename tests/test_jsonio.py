"""The one JSON writer: deterministic layout, UTF-8 as is, no NaN or Infinity."""

import json

import pytest

from recipec import jsonio


def test_layout_sorted_indented_trailing_newline():
    text = jsonio.dumps({"b": [1, 2], "a": {"z": "é…", "y": None}})
    assert text == '{\n  "a": {\n    "y": null,\n    "z": "é…"\n  },\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert text == jsonio.dumps(json.loads(text))


def test_inline_numbers_only_for_number_lists():
    data = {"shape": [4096, 32, -1.5e-07], "names": ["a", "b"], "rows": [[1, 2], [3]], "empty": []}
    text = jsonio.dumps(data, inline_numbers=True)
    assert '"shape": [4096, 32, -1.5e-07]' in text
    assert '"names": [\n    "a",\n    "b"\n  ]' in text
    assert '      1, 2\n' not in text and "[1, 2]" in text and "[3]" in text
    assert json.loads(text) == data


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_refuses_nan_and_infinity_naming_where(bad):
    with pytest.raises(ValueError, match=r"\$\.totals\.gaps\[1\] is .*JSON has no NaN or Infinity"):
        jsonio.dumps({"totals": {"gaps": [0.5, bad]}})


def _stdlib(data) -> str:
    """What the writer must produce, byte for byte: the standard library's indented encoder."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def test_same_bytes_as_the_standard_library_on_awkward_values():
    import enum

    class Colour(str, enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    cases = [{}, [], (), "x", 0, -1.5e-07, 1e300, -0.0, 10 ** 30, None, True, False,
             {"b": {}, "a": [[]], "c": [{}]}, {2: "b", 1: "a"}, {1.5: 3, 0.25: [True, None]},
             {True: 1, False: 0}, {None: "null key"}, [Colour.RED, Level.HIGH, (1, (2, 3))],
             {"é\n\"\\\u2028\x01": "é\n\t", "z" * 40: [{"k": [1, 2.5, "s"]}]},
             {f"k{i:02d}": i for i in range(40)},  # more keys than a cached layout holds
             {"nan": "nan", "inf": ["inf", "-inf"], "x": "a: nan,\n"},  # the text, not the floats
             [{"a": 1, "b": 2}, {"b": 3, "a": 4}, {"a": {"a": {"a": 5}}}]]
    for data in cases:
        assert jsonio.dumps(data) == _stdlib(data), data


def test_same_bytes_as_the_standard_library_on_a_plan():
    from tests.kit_helpers import ROOT

    plan = json.loads((ROOT / "tests/cases/recipes/qwen35moe-fit-24gib/plan.lock.json").read_text())
    assert len(plan["tensors"]) > 700
    assert jsonio.dumps(plan) == _stdlib(plan)


def test_refuses_what_the_standard_library_refuses():
    for bad in [{1.5: float("nan")}, {float("inf"): 1}, [[1, [float("-inf")]]]]:
        with pytest.raises(ValueError):
            jsonio.dumps(bad)
    for bad in [{"a": object()}, {(1, 2): 3}, {1: "a", "b": 2}, [{1, 2}]]:
        with pytest.raises(TypeError):
            jsonio.dumps(bad)
