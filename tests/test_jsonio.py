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
