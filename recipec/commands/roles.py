"""List a model's roles: layers, tensor count, bytes at the source types, and the layer sets they fall in.

A role is what a recipe's selectors name (`attn_q`, `ffn_down_exps`, `nextn.eh_proj`): a tensor's
name without `blk.N.` and `.weight`. The layer sets are the ones a layer filter can name:
`trunk`, `full-attention`, `recurrent` (from the model's metadata) and `mtp`. `--format json`
prints the same as data (schema `recipec.roles/1`).
"""

from __future__ import annotations

import argparse

SCHEMA = "recipec.roles/1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `recipec roles`."""
    parser.add_argument("--model", required=True, metavar="M",
                        help="model GGUF (single or first shard of a split) or manifest JSON")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def layer_text(layers, mtp_layers, trunk: int | None = None) -> str:
    """Trunk layers as compact ranges, then the MTP blocks: `0..39, mtp 40`; `global` for none.

    A stride that runs to the end of the TRUNK is written as its filter: `every 4 from 3`.
    """
    layers = sorted(layers)
    step = layers[1] - layers[0] if len(layers) > 2 else 0
    if step > 1 and trunk is not None and layers[-1] + step >= trunk \
            and all(b - a == step for a, b in zip(layers, layers[1:])):
        parts = [f"every {step}" + (f" from {layers[0]}" if layers[0] else "")]
    else:
        runs: list[list[int]] = []
        for n in layers:
            if runs and n == runs[-1][1] + 1:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        parts = [",".join(str(a) if a == b else f"{a}..{b}" for a, b in runs)] if runs else []
    if mtp_layers:
        parts.append("mtp " + ",".join(map(str, sorted(mtp_layers))))
    return ", ".join(parts) or "global"


def role_rows(model) -> list[dict]:
    """One row per role of MODEL (sorted by role): layers, tensors, bytes, source types, sets."""
    from recipec import ggml
    from recipec.mixture import is_quantizable
    from recipec.selectors import layer_context

    ctx = layer_context(model)
    by_role: dict[str, list] = {}
    for t in model.tensors:
        by_role.setdefault(t.role, []).append(t)
    rows = []
    for role in sorted(by_role):
        ts = by_role[role]
        trunk = sorted({t.layer for t in ts if not t.mtp and t.layer is not None})
        mtp = sorted({t.layer for t in ts if t.mtp and t.layer is not None})
        sets = [name for name, hit in (
            ("trunk", trunk), ("full-attention", [n for n in trunk if n in ctx.full_attention]),
            ("recurrent", [n for n in trunk if n in ctx.recurrent]), ("mtp", [t for t in ts if t.mtp])) if hit]
        rows.append({
            "role": role,
            "layers": trunk,
            "mtp_layers": mtp,
            "layers_text": layer_text(trunk, mtp, ctx.trunk),
            "tensors": len(ts),
            "bytes": sum(ggml.tensor_bytes(t.type, t.shape) for t in ts),
            "source_types": sorted({t.type for t in ts}),
            "sets": sets,
            "quantized": any(is_quantizable(t, arch=model.arch) for t in ts),
        })
    return rows


def roles_data(model) -> dict:
    """The whole listing as data (what `--format json` prints)."""
    from recipec.selectors import layer_context

    ctx = layer_context(model)
    return {
        "schema": SCHEMA,
        "arch": model.arch,
        "trunk_layers": ctx.trunk,
        "mtp_layers": list(model.mtp_layers),
        "full_attention_layers": sorted(ctx.full_attention),
        "recurrent_layers": sorted(ctx.recurrent),
        "roles": role_rows(model),
    }


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def render_text(data: dict) -> str:
    """The listing as an aligned table, the model's layer sets first."""
    mtp = f", MTP blocks {', '.join(map(str, data['mtp_layers']))}" if data["mtp_layers"] else ""
    head = [f"{data['arch']}: {data['trunk_layers']} trunk layers{mtp}"]
    for name, key in (("full-attention", "full_attention_layers"), ("recurrent", "recurrent_layers")):
        head.append(f"  {name:<15} {layer_text(data[key], ()) if data[key] else '(none)'}")
    head.append("")
    table = [("role", "layers", "tensors", "bytes", "source", "sets")]
    for r in data["roles"]:
        table.append((r["role"] + ("" if r["quantized"] else " (not quantized)"), r["layers_text"],
                      str(r["tensors"]), _size(r["bytes"]), ",".join(r["source_types"]), " ".join(r["sets"]) or "-"))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.rjust(w) if i in (2, 3) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
             for row in table]
    return "\n".join(head + lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Print the model's roles; exit 0 (an unreadable model is a diagnostic, exit 2)."""
    import sys

    from recipec.exitcodes import EXIT_OK
    from recipec.jsonio import dumps
    from recipec.loaders import load_model
    from recipec.report import shown

    data = roles_data(load_model(args.model))
    sys.stdout.write(dumps(data) if args.format == "json" else shown(render_text(data)))
    return EXIT_OK
