"""The bench's outputs: a text/markdown table, results.json and an SVG chart of KLD against size."""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path

MIB = 1024 * 1024
COLUMNS = ("mix", "variant", "size MiB", "bpw", "mean KLD", "vs stock", "KLD p99", "same top %", "PPL")


def table_rows(rows: list[dict]) -> list[tuple[str, ...]]:
    stock = {r["mix"]: r["kld"]["kld"] for r in rows if r["method"] == "stock"}
    out = []
    for r in rows:
        k = r["kld"]
        s = stock.get(r["mix"])
        rel = "" if r["method"] == "stock" or not s else f"{100 * (k['kld'] / s - 1):+.1f} %"
        out.append((
            r["mix"], r["label"], f"{r['file_bytes'] / MIB:.4f}", f"{r['bpw']:.3f}",
            f"{k['kld']:.6f} ± {k['kld_err']:.6f}", rel, f"{k['kld_p99']:.5f}",
            f"{k['same_top']:.2f} ± {k['same_top_err']:.2f}", f"{k['ppl']:.3f} ± {k['ppl_err']:.3f}",
        ))
    return out


def text_table(rows: list[dict]) -> str:
    body = [COLUMNS, *table_rows(rows)]
    widths = [max(len(r[i]) for r in body) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(COLUMNS) - 2)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(rows)]
    return "\n".join(lines) + "\n"


def comparison(rows: list[dict]) -> list[dict]:
    """Per mix: each recipec variant's mean KLD relative to stock (ratio < 1: recipec better)."""
    out = []
    stock = {r["mix"]: r for r in rows if r["method"] == "stock"}
    for r in rows:
        if r["method"] == "stock":
            continue
        s = stock[r["mix"]]
        err = math.hypot(r["kld"]["kld_err"], s["kld"]["kld_err"])
        # What the plan's own error model predicted: its objective over the stock mix's, same model.
        so = r.get("stock_objective")
        predicted = r["objective"] / so if so and r.get("objective") is not None else None
        out.append({"mix": r["mix"], "variant": r["label"], "kld_ratio": r["kld"]["kld"] / s["kld"]["kld"],
                    "predicted_ratio": predicted, "objective": r.get("objective"), "stock_objective": so,
                    "kld_diff": r["kld"]["kld"] - s["kld"]["kld"], "unpaired_err": err,
                    "bytes_vs_stock": r["file_bytes"] - s["file_bytes"]})
    return out


COLORS = {"stock": "#444444", "recipec-optimal": "#1f77b4", "recipec-greedy": "#ff7f0e",
          "recipec-optimal-pinned": "#2ca02c", "recipec-measured-t2": "#d62728", "recipec-measured-probes": "#9467bd",
          "recipec-measured-probes-role": "#9467bd", "recipec-measured-probes-band": "#8c564b",
          "recipec-measured-probes-tensor": "#e377c2"}
MARKS = {"stock": "square", "recipec-optimal": "circle", "recipec-greedy": "diamond", "recipec-optimal-pinned": "circle",
         "recipec-measured-t2": "diamond", "recipec-measured-probes": "diamond", "recipec-measured-probes-role": "diamond",
         "recipec-measured-probes-band": "diamond", "recipec-measured-probes-tensor": "diamond"}
LEGEND = {"stock": "stock llama.cpp", "recipec-optimal": "recipec optimal", "recipec-greedy": "recipec greedy",
          "recipec-optimal-pinned": "optimal, output Q6_K", "recipec-measured-t2": "measured t²",
          "recipec-measured-probes": "measured t² + probes", "recipec-measured-probes-role": "t² + role probes",
          "recipec-measured-probes-band": "t² + band probes", "recipec-measured-probes-tensor": "t² + tensor probes"}


def svg_chart(rows: list[dict], title: str) -> str:
    """Mean KLD (log scale) against file size (MiB), one series per method, error bars ±1 s.e."""
    W, H, L, R, T, B = 760, 440, 80, 190, 40, 60
    xs = [r["file_bytes"] / MIB for r in rows]
    ys = [r["kld"]["kld"] for r in rows]
    x0, x1 = min(xs), max(xs)
    pad = (x1 - x0) * 0.08 or 0.1
    x0, x1 = x0 - pad, x1 + pad
    y0 = 10 ** math.floor(math.log10(min(ys)))
    y1 = 10 ** math.ceil(math.log10(max(ys)))
    if y1 <= y0:
        y1 = y0 * 10

    def px(x):
        return L + (x - x0) / (x1 - x0) * (W - L - R)

    def py(y):
        return T + (math.log10(y1) - math.log10(max(y, 1e-12))) / (math.log10(y1) - math.log10(y0)) * (H - T - B)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2 - R / 2 + L / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>']
    # grid: decades and their 2x, 5x on y; ~6 ticks on x
    d = y0
    while d <= y1 * 1.0001:
        for m in (1, 2, 5):
            v = d * m
            if y0 <= v <= y1 * 1.0001:
                y = py(v)
                out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#{"ccc" if m == 1 else "eee"}"/>')
                out.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
        d *= 10
    step = _nice((x1 - x0) / 6)
    t = math.ceil(x0 / step) * step
    while t <= x1:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle">{t:g}</text>')
        t += step
    out.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 18}" text-anchor="middle">file size (MiB)</text>')
    out.append(f'<text transform="translate(20 {(T + H - B) / 2}) rotate(-90)" text-anchor="middle">'
               'mean KLD vs F16 (log scale)</text>')
    for method, color in COLORS.items():
        pts = sorted((r["file_bytes"] / MIB, r["kld"]["kld"], r["kld"]["kld_err"], r["mix"]) for r in rows
                     if r["method"] == method)
        if not pts:
            continue
        if len(pts) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _, _ in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for x, y, e, mix in pts:
            cx, cy = px(x), py(y)
            out.append(f'<line x1="{cx:.1f}" y1="{py(y + e):.1f}" x2="{cx:.1f}" y2="{py(max(y - e, y0)):.1f}" stroke="{color}"/>')
            out.append(_marker(MARKS[method], cx, cy, color, f"{method} {mix}: {x:.3f} MiB, KLD {y:.5f}"))
            if method == "stock":
                out.append(f'<text x="{cx:.1f}" y="{cy - 9:.1f}" text-anchor="middle" fill="#444">{escape(mix)}</text>')
    ly = T + 10
    for method, color in COLORS.items():
        if any(r["method"] == method for r in rows):
            out.append(_marker(MARKS[method], W - R + 20, ly, color, method))
            out.append(f'<text x="{W - R + 32}" y="{ly + 4}">{escape(LEGEND[method])}</text>')
            ly += 20
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _marker(kind: str, x: float, y: float, color: str, title: str) -> str:
    t = f"<title>{escape(title)}</title>"
    if kind == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{color}">{t}</rect>'
    if kind == "diamond":
        return (f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}" '
                f'fill="{color}">{t}</polygon>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{color}">{t}</circle>'


def _nice(step: float) -> float:
    e = 10 ** math.floor(math.log10(step))
    for m in (1, 2, 2.5, 5, 10):
        if step <= m * e:
            return m * e
    return 10 * e


def write(out_dir: Path, results, meta: dict) -> dict[str, Path]:
    """results.json, table.md and kld_vs_size.svg in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in r.items() if k != "tensor_types"} for r in results.rows]
    data = {"version": 1, "config": results.config, "meta": meta, "base": results.base, "rows": rows,
            "tensor_types": {f"{r['method']} {r['mix']}": r.get("tensor_types", {}) for r in results.rows},
            "comparison": comparison(results.rows)}
    paths = {"json": out_dir / "results.json", "table": out_dir / "table.md", "svg": out_dir / "kld_vs_size.svg"}
    paths["json"].write_text(json.dumps(data, indent=1) + "\n")
    paths["table"].write_text(markdown_table(results.rows))
    paths["svg"].write_text(svg_chart(results.rows, f"KLD against size: stock llama.cpp mixes vs recipec ({results.config})"))
    return paths
