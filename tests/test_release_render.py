"""The release card as a reader sees it: markdown -> HTML (as a model-card page renders it), loaded in
headless Chromium, and the screenshot's pixels counted: one point per measured variant on the KLD
picture, one cell per (role, layer) on the bits-per-weight maps. Plus a markdown lint of the card."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from pathlib import Path

import pytest

from recipec.plan import Plan
from recipec.release.svg import POINT_COLOUR, _RAMP
from tests.ci import in_ci
from tests.kit_helpers import recipec_cli
from tests.release_helpers import KIND, RECIPES, compile_release, metrics_record, write_metrics, write_recipes

# three of the four variants measured, far apart on both axes
MEASURED = {"q8": (4_300_000, 0.002), "bpw55": (2_800_000, 0.02), "q3km-nomtp": (1_300_000, 0.09)}


def _chromium() -> str:
    """The headless Chromium: CHROMIUM, or one on PATH. scripts/install-test-tools.sh (run by the
    README's test command) installs Debian's; without one this test skips, and fails in CI."""
    named = os.environ.get("CHROMIUM")
    if named and os.access(named, os.X_OK):
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    why = "no headless Chromium here (scripts/install-test-tools.sh installs Debian's chromium as root)"
    if in_ci():
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def card(tmp_path_factory, fixture_model, fixture_imatrix) -> Path:
    d = tmp_path_factory.mktemp("render")
    rc, err = compile_release(write_recipes(d / "recipes"), fixture_model(KIND), fixture_imatrix(KIND, nextn=True),
                              d / "rel")
    assert rc == 0, err
    for name, (size, kld) in MEASURED.items():
        write_metrics(d / "rel", metrics_record(name, size, kld))
    rc, _, err = recipec_cli("card", str(d / "rel"))
    assert rc == 0, err
    return d / "rel"


@pytest.fixture(scope="module")
def screenshot(card, tmp_path_factory):
    markdown = pytest.importorskip("markdown", reason="the test extra's `markdown` renders the card")
    image = pytest.importorskip("PIL.Image", reason="the test extra's Pillow reads the screenshot")
    exe = _chromium()
    text = (card / "README.md").read_text()
    assert text.startswith("---\n")
    body = text.split("\n---\n", 1)[1]  # the metadata block is not shown on a model card
    html = markdown.markdown(body, extensions=["tables", "fenced_code"])
    page = card / "card.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{html}</body></html>")
    shot = tmp_path_factory.mktemp("shot") / "card.png"
    profile = tmp_path_factory.mktemp("chromium-profile")
    # offline and quiet: no background connections, updates or sync on a machine with no network
    proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={profile}",
                           "--force-device-scale-factor=1", "--window-size=1200,7000",
                           f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    from PIL import ImageOps

    img = image.open(shot).convert("RGB")
    return img.crop(ImageOps.invert(img).getbbox())  # the page's inked part: less to scan


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def blobs(img, match) -> list[int]:
    """The sizes of the 4-connected regions of pixels for which MATCH(rgb) holds."""
    w, h = img.size
    px = img.load()
    seen = set()
    sizes = []
    for y in range(h):
        for x in range(w):
            if (x, y) in seen or not match(px[x, y]):
                continue
            queue, size = deque([(x, y)]), 0
            seen.add((x, y))
            while queue:
                cx, cy = queue.popleft()
                size += 1
                for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                    if 0 <= nx < w and 0 <= ny < h and (nx, ny) not in seen and match(px[nx, ny]):
                        seen.add((nx, ny))
                        queue.append((nx, ny))
            sizes.append(size)
    return sizes


def test_the_card_is_not_blank(screenshot):
    colours = screenshot.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20
    inked = sum(n for n, c in colours if c != (255, 255, 255))
    assert inked > 100_000  # text, tables and five pictures


def test_one_point_per_measured_variant(screenshot):
    magenta = _hex(POINT_COLOUR)
    close = lambda p: sum(abs(a - b) for a, b in zip(p, magenta)) < 60  # noqa: E731
    points = [s for s in blobs(screenshot, close) if s >= 20]  # a point is a disc of radius 7
    assert len(points) == len(MEASURED), points


def test_one_cell_per_role_and_layer(screenshot, card):
    expected = 0
    for name in RECIPES:
        plan = Plan.load(str(card / name / "plan.lock.json"))
        expected += len({(t.role, t.layer) for t in plan.tensors if t.layer is not None and t.quantized})
    ramp = {_hex(c) for c in _RAMP}
    sizes = blobs(screenshot, lambda p: p in ramp)
    cells = [s for s in sizes if 150 <= s <= 300]  # 15 x 15 cells; the legend's swatches are larger
    assert len(cells) == expected
    assert sum(1 for s in sizes if 600 <= s <= 900) == 8 * len(RECIPES)  # each map's 8 legend swatches


def test_card_passes_markdown_lint(card):
    try:
        from pymarkdown.api import PyMarkdownApi
    except ImportError:
        pytest.skip("pymarkdownlnt is not installed (the test extra)")
    # tables and hashes make long lines: MD013 (line length) is the one rule turned off
    result = (PyMarkdownApi().enable_extension_by_identifier("front-matter").disable_rule_by_identifier("md013")
              .scan_path(str(card / "README.md")))
    assert not result.scan_failures, [str(f) for f in result.scan_failures]
    assert not result.pragma_errors
    # the same lint finds a fault when there is one (a heading without a blank line after it)
    bad = PyMarkdownApi().disable_rule_by_identifier("md013").scan_string("# Card\n\n## Files\ntext\n")
    assert [f.rule_id for f in bad.scan_failures] == ["MD022"]
