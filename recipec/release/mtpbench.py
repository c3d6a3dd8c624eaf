"""llama-server's own counters for bench-mtp.sh: wait for the server, run the requests, write the metrics.

Standard library only: bench-mtp.sh carries this file verbatim and runs it with python3, so a GPU
box needs no recipec to measure. Every number written comes from the server: each request's final
`timings` (predicted_n, predicted_ms, draft_n, draft_n_accepted) and the difference of /metrics
before and after the requests (spec_decode_* counters); the rates are computed from those as
llama-server computes them in its own log. Exit 0: done; 1: the server or a request failed; 2: bad
arguments.

    python3 mtpbench.py wait LOG PID --timeout S               # prints the server's URL when /health is ok
    python3 mtpbench.py run URL --prompts F --requests N --max-tokens M --spec none|draft-mtp --n-max K --out RUN.json
    python3 mtpbench.py combine RUN.json… --out FILE [--variant V --file F --file-bytes N --plan-sha256 HEX
                                                      --llama-cpp VERSION --prompts-sha256 HEX --n-max-list "1 2"]
"""

import argparse
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

SCHEMA = "recipec.mtp/1"
_LISTENING = re.compile(r"listening on (http://[^\s/]+)")
# the server is on loopback: never through an http_proxy from the environment
_OPEN = urllib.request.build_opener(urllib.request.ProxyHandler({})).open
_COUNTER = re.compile(r'^llamacpp:(spec_decode_[a-z_]+)(?:\{position="([0-9]+)"\})?\s+([0-9.eE+-]+)\s*$', re.M)


def _get(url: str, timeout: float):
    """(HTTP status, body) of a GET; status 0 when nothing answered."""
    try:
        with _OPEN(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (OSError, ValueError):
        return 0, ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def wait(log: str, pid: int, timeout: float) -> int:
    """The URL the server listens on, once /health answers 200; 1 when it exits or TIMEOUT passes."""
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if not _alive(pid):
            print(f"mtpbench.py: llama-server exited before it was ready (log: {log})", file=sys.stderr)
            return 1
        if url is None:
            try:
                with open(log, encoding="utf-8", errors="replace") as f:
                    m = _LISTENING.search(f.read())
            except OSError:
                m = None
            url = m.group(1) if m else None
        if url is not None and _get(url + "/health", 5)[0] == 200:
            print(url)
            return 0
        time.sleep(0.2)
    print(f"mtpbench.py: llama-server not ready after {timeout:g} s (log: {log})", file=sys.stderr)
    return 1


def counters(text: str) -> dict:
    """/metrics' speculative-decoding counters: name -> value, per position as a list."""
    out: dict = {"spec_decode_num_accepted_tokens_per_pos_total": []}
    for name, pos, value in _COUNTER.findall(text):
        if pos:
            per = out["spec_decode_num_accepted_tokens_per_pos_total"]
            per.extend([0] * (int(pos) + 1 - len(per)))
            per[int(pos)] = int(float(value))
        else:
            out[name] = int(float(value))
    return out


def prompts(path: str) -> list:
    """The prompts: one per line; blank lines and lines starting with # are skipped."""
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]


def chat(url: str, prompt: str, max_tokens: int) -> dict:
    """One streaming chat completion at temperature 0: its final `timings` and `usage`, as sent."""
    body = json.dumps({"messages": [{"role": "user", "content": prompt}], "stream": True, "temperature": 0,
                       "max_tokens": max_tokens, "stream_options": {"include_usage": True}}).encode("utf-8")
    req = urllib.request.Request(url + "/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    last: dict = {}
    with _OPEN(req, timeout=3600) as r:
        for raw in r:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            if "error" in event:
                raise ValueError(f"the server answered an error: {event['error']}")
            for key in ("timings", "usage"):
                if key in event:
                    last[key] = event[key]
    if "timings" not in last:
        raise ValueError("the response carried no timings")
    return last


def run(url: str, prompt_list: list, requests: int, max_tokens: int, spec: str, n_max: int) -> dict:
    """A warm-up request (not counted), then REQUESTS requests; /metrics read around them."""
    chat(url, prompt_list[0], min(8, max_tokens))
    before = counters(_get(url + "/metrics", 30)[1])
    answers = []
    for i in range(requests):
        answer = chat(url, prompt_list[i % len(prompt_list)], max_tokens)
        answers.append({"prompt": i % len(prompt_list), "timings": answer["timings"], "usage": answer.get("usage")})
    after = counters(_get(url + "/metrics", 30)[1])
    return {"spec": spec, "n_max": n_max, "requests": answers, "metrics_before": before, "metrics_after": after}


def _ratio(a, b, digits=4):
    return round(a / b, digits) if b else None


def summary(raw: dict) -> dict:
    """One run's aggregate numbers from its raw server answers."""
    t = [r["timings"] for r in raw["requests"]]
    before, after = raw["metrics_before"], raw["metrics_after"]
    per_key = "spec_decode_num_accepted_tokens_per_pos_total"
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if k.startswith("spec_decode_num_") and k != per_key}
    pos_a, pos_b = after[per_key], before[per_key]
    per_pos = [a - (pos_b[i] if i < len(pos_b) else 0) for i, a in enumerate(pos_a)]
    predicted_n, predicted_ms = sum(x["predicted_n"] for x in t), sum(x["predicted_ms"] for x in t)
    draft_n, accepted = sum(x.get("draft_n", 0) for x in t), sum(x.get("draft_n_accepted", 0) for x in t)
    steps = delta.get("spec_decode_num_drafts_total", 0)
    drafted = raw["spec"] != "none"
    return {
        "spec": raw["spec"], "n_max": raw["n_max"], "requests": len(t),
        "predicted_n": predicted_n, "predicted_ms": round(predicted_ms, 3),
        "tok_s": round(1000 * predicted_n / predicted_ms, 2) if predicted_ms else None,
        "draft_n": draft_n, "draft_n_accepted": accepted,
        "spec_decode_num_draft_tokens": delta.get("spec_decode_num_draft_tokens_total", 0),
        "spec_decode_num_accepted_tokens": delta.get("spec_decode_num_accepted_tokens_total", 0),
        "spec_decode_num_drafts": steps, "accepted_per_pos": per_pos,
        "acceptance": _ratio(accepted, draft_n) if drafted else None,
        "mean_accepted_length": (round(1 + delta.get("spec_decode_num_accepted_tokens_total", 0) / steps, 4)
                                 if steps else (1.0 if drafted else None)),
        "acceptance_by_position": [round(p / steps, 4) for p in per_pos] if drafted and steps else [],
        "per_request": t,
    }


def combine(runs: list, meta: dict) -> dict:
    """The metrics record: the runs (target-only first) with their speed-up against target-only."""
    rows = [summary(r) for r in runs]
    base = next((r["tok_s"] for r in rows if r["spec"] == "none"), None)
    for r in rows:
        r["speedup"] = _ratio(r["tok_s"], base) if base and r["tok_s"] is not None else None
    return {"schema": SCHEMA, **meta, "runs": rows}


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="mtpbench.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait")
    w.add_argument("log")
    w.add_argument("pid", type=int)
    w.add_argument("--timeout", type=float, default=300)
    r = sub.add_parser("run")
    r.add_argument("url")
    for name in ("--prompts", "--spec", "--out"):
        r.add_argument(name, required=True)
    for name in ("--requests", "--max-tokens", "--n-max"):
        r.add_argument(name, type=int, required=True)
    c = sub.add_parser("combine")
    c.add_argument("runs", nargs="+")
    c.add_argument("--out", required=True)
    for name in ("--variant", "--file", "--plan-sha256", "--llama-cpp", "--prompts-sha256", "--n-max-list"):
        c.add_argument(name, default="")
    for name in ("--file-bytes", "--requests", "--max-tokens"):
        c.add_argument(name, type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd == "wait":
        return wait(args.log, args.pid, args.timeout)
    if args.cmd == "run":
        todo = prompts(args.prompts)
        if not todo or args.requests < 1:
            print(f"mtpbench.py: {args.prompts}: no prompts (or no requests asked)", file=sys.stderr)
            return 2
        try:
            record = run(args.url, todo, args.requests, args.max_tokens, args.spec, args.n_max)
        except (OSError, ValueError, KeyError, http.client.HTTPException) as exc:
            print(f"mtpbench.py: a request failed: {exc}", file=sys.stderr)
            return 1
    else:
        raws = []
        for path in args.runs:
            with open(path, encoding="utf-8") as f:
                raws.append(json.load(f))
        meta = {k: getattr(args, k) for k in ("variant", "file", "file_bytes", "plan_sha256", "llama_cpp",
                                              "prompts_sha256", "requests", "max_tokens", "n_max_list")}
        record = combine(raws, meta)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(record, sort_keys=True, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
