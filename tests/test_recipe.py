"""Validation: extends (relative paths, cycles, overrides), canonical names, units."""

from recipec.recipe import load


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_units_binary_and_decimal(tmp_path):
    # `budget 2 UNIT` in bytes: binary units are powers of 1024, decimal ones powers of 1000
    expected = {
        "B": 2,
        "KiB": 2_048,              # 2 * 1024
        "MiB": 2_097_152,          # 2 * 1024**2
        "GiB": 2_147_483_648,      # 2 * 1024**3
        "TiB": 2_199_023_255_552,  # 2 * 1024**4
        "KB": 2_000,               # 2 * 10**3
        "MB": 2_000_000,
        "GB": 2_000_000_000,
        "TB": 2_000_000_000_000,
    }
    for unit, size in expected.items():
        r = load(write(tmp_path, "a.recipe", f'recipe "a"\nbudget 2 {unit}\n')).recipe
        assert r.budget.bytes == size, unit
    r = load(write(tmp_path, "b.recipe", 'recipe "a"\nbudget 4.5 bpw\n')).recipe
    assert r.budget.kind == "bpw" and r.budget.bpw == 4.5


def test_fit_budget(tmp_path):
    r = load(write(tmp_path, "a.recipe",
                   'recipe "a"\nbudget fit 24 GiB ctx 32768 kv q8_0 parallel 2 overhead 512 MiB\n')).recipe
    b = r.budget
    assert (b.kind, b.device_bytes, b.ctx, b.kv_type, b.parallel, b.overhead_bytes) == \
        ("fit", 24 << 30, 32768, "Q8_0", 2, 512 << 20)


def test_extends_relative_child_overrides_parent(tmp_path):
    write(tmp_path, "base/parent.recipe",
          'recipe "parent"\nbase Q4_K_M\nladder Q4_K Q6_K\nbudget 10 GiB\npin output Q8_0\nfloor attn_* Q5_K\n')
    child = write(tmp_path, "child/child.recipe",
                  'recipe "child"\nextends "../base/parent.recipe"\nbudget 9 GiB\npin output Q6_K\n')
    loaded = load(child)
    assert not loaded.diagnostics
    r = loaded.recipe
    assert r.name == "child" and r.base == "Q4_K_M" and r.ladder == ("Q4_K", "Q6_K")
    assert r.budget.bytes == 9 << 30
    pins = [(b.kind, b.type) for b in r.bounds]
    assert pins == [("floor", "Q5_K"), ("pin", "Q6_K")]


def test_extends_cycle_and_missing(tmp_path):
    write(tmp_path, "a.recipe", 'recipe "a"\nextends "b.recipe"\n')
    write(tmp_path, "b.recipe", 'recipe "b"\nextends "a.recipe"\n')
    d = load(str(tmp_path / "a.recipe")).diagnostics
    assert [x.code for x in d] == ["P007"] and d[0].span.line == 2
    d = load(write(tmp_path, "c.recipe", 'recipe "c"\nextends "nope.recipe"\n')).diagnostics
    assert [x.code for x in d] == ["P008"] and (d[0].span.line, d[0].span.col) == (2, 1)


def test_types_are_case_insensitive_and_canonical(tmp_path):
    r = load(write(tmp_path, "a.recipe", 'recipe "a"\nbase q4_k_m\nladder q4_k iq4_xs\n')).recipe
    assert r.base == "Q4_K_M" and r.ladder == ("Q4_K", "IQ4_XS")
