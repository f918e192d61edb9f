"""How far below a measured max latency any schedule could go: a lower bound per workload.

For the benchmark's own arrival sequences (regenerated from the seed and rates a
`bench/nova_bench.py` result records) and its own measured stage times, every schedule on one
GPU obeys, for any run of consecutive arrivals i..j:

    max latency >= at_i + sum(C_k, k = i..j) - at_j + min(decode_k, k = i..j)

where C_k is request k's vision encode + prefill time *alone on the whole GPU* (the result's
`service_ms`, prefill scaled to the request's prompt length) and decode_k its output tokens after
the first at the fastest batch-1 decode step of the stage tables. The compute of requests
i..j cannot start before at_i nor, one at a time on the whole GPU, take less than the sum; the
one that finishes last arrived no later than at_j and still has its decode to run.

The bound assumes compute stages do not speed each other up when they overlap (vision of one
request beside prefill of another); both are GEMM-bound and fill the GPU at these sizes. The
table says, per workload, the bound, each policy's measured max and the largest reduction any
schedule could make against the best baseline: when that is below the issue's 23.3 %, the
figure is out of reach on this workload and card whatever the policy.

    python3 bench/nova_bound.py bench/results/nova/bench_qwen2-vl-7b.json [more results...]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_json  # noqa: E402
from bench.nova_workload import make_workload  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = 0.233  # the max-latency reduction against the best baseline


def compute_ms(item, service: dict) -> float:
    """Vision + prefill alone on the whole GPU for this request (prefill scaled by its tokens)."""
    s = service[item.screen]
    measured_prompt = s["prompt_tokens"]
    image_tokens = measured_prompt - 67  # nova_bench measures with 65 ordinary tokens + 2 markers
    tokens = image_tokens + item.prompt_len + 2
    return s["vision_ms"] + s["prefill_ms"] * tokens / measured_prompt


def lower_bound_ms(items, service: dict, step_ms: float) -> tuple[float, tuple[int, int]]:
    """max over i <= j of at_i + sum C - at_j + min decode; returns (bound, (i, j))."""
    best, where = 0.0, (0, 0)
    c = [compute_ms(it, service) for it in items]
    d = [(it.output_len - 1) * step_ms for it in items]
    for i in range(len(items)):
        total, dmin = 0.0, float("inf")
        for j in range(i, len(items)):
            total += c[j]
            dmin = min(dmin, d[j])
            lb = items[i].at_s * 1e3 + total - items[j].at_s * 1e3 + dmin
            if lb > best:
                best, where = lb, (i, j)
    return best, where


def workload_items(w: dict, seed: int, cv: float):
    """The requests of a result's workload `w`, as the benchmark generated them."""
    return make_workload(w["n"], w["rate_rps"], w["process"], cv=cv, seed=seed)


def committed_tables(preset: str) -> str:
    """Path of the stage tables of `preset` committed next to the results."""
    return os.path.join(HERE, "results", "nova", f"tables_{preset}.json")


def fastest_step_ms(tables_path: str | None, preset: str) -> float:
    if not (
        tables_path and os.path.exists(tables_path)
    ):  # a path on the GPU machine: the committed copy
        tables_path = committed_tables(preset)
    if os.path.exists(tables_path):
        with open(tables_path) as f:
            solo = json.load(f)["solo"]["decode"]
        return min(row[0] for row in solo["ms"])  # batch-1 column, over every SM share
    raise SystemExit(f"stage tables {tables_path!r} not found: pass --tables")


def seed_and_cv(command: str) -> tuple[int, float]:
    argv = shlex.split(command)
    seed, cv = 1, 3.0
    for k, v in zip(argv, argv[1:], strict=False):
        if k == "--seed":
            seed = int(v)
        elif k == "--cv":
            cv = float(v)
    return seed, cv


def analyse(result: dict, tables: str | None) -> dict:
    command = result.get("command") or result["commands"][0]
    seed, cv = seed_and_cv(command)
    step = fastest_step_ms(tables or result.get("tables"), result["preset"])
    out = {
        "source_command": command,
        "seed": seed,
        "decode_step_ms": round(step, 3),
        "workloads": {},
    }
    for w in result["workloads"]:
        items = workload_items(w, seed, cv)
        bound, (i, j) = lower_bound_ms(items, result["service_ms"], step)
        rows = {
            r["policy"]: r["latency_ms"]["max"]
            for r in result["runs"]
            if r["workload"] == w["name"]
        }
        baselines = {p: m for p, m in rows.items() if p != "nova"}
        best = min(baselines.items(), key=lambda kv: kv[1]) if baselines else None
        entry: dict[str, Any] = {"bound_ms": round(bound, 1), "window": [i, j], "max_ms": rows}
        if best:
            entry["best_baseline"] = best[0]
            entry["best_baseline_max_ms"] = best[1]
            entry["largest_possible_reduction"] = round(1 - bound / best[1], 4)
            entry["target_reachable"] = entry["largest_possible_reduction"] >= TARGET
        out["workloads"][w["name"]] = entry
    return out


def print_table(name: str, a: dict) -> None:
    print(f"\n{name}  (decode step {a['decode_step_ms']} ms at batch 1; seed {a['seed']})")
    print(
        f"{'workload':>14} {'bound s':>8} {'best baseline':>22} {'nova s':>7} {'room':>7}  target 23.3%"
    )
    for w, e in a["workloads"].items():
        if "best_baseline" not in e:
            continue
        nova = e["max_ms"].get("nova")
        print(
            f"{w:>14} {e['bound_ms'] / 1e3:8.2f} {e['best_baseline']:>14} {e['best_baseline_max_ms'] / 1e3:7.2f} "
            f"{(nova or 0) / 1e3:7.2f} {100 * e['largest_possible_reduction']:6.1f}%  "
            f"{'not ruled out' if e['target_reachable'] else 'out of reach'}"
        )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="bench/nova_bench.py result JSONs")
    p.add_argument(
        "--tables", default=None, help="stage tables (default: the one the result names)"
    )
    p.add_argument("--out", default="bench/results/nova/bound.json")
    args = p.parse_args(argv)
    report = {
        "command": "python3 bench/nova_bound.py "
        + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
        "results": {},
    }
    for path in args.results:
        with open(path) as f:
            result = json.load(f)
        a = analyse(result, args.tables)
        report["results"][os.path.basename(path)] = a
        print_table(os.path.basename(path), a)
    write_json(args.out, report)
    print("\nwrote", args.out)


if __name__ == "__main__":
    main()
