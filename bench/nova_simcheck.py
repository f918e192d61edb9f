"""Does the scheduler's model predict the engine? The simulator against a measured benchmark.

For each workload of a `bench/nova_bench.py` result, replays its arrival sequence (same seed,
rates and request shapes) through `scheduler/simulate.py` for each policy the result ran, twice:
on the profiled stage tables, and on the same tables with the corrections nova's calibration
learnt during that run (`engine.calibration` of the result's nova row) applied. Prints simulated
against measured max latency; the JSON keeps both. Then, on the calibrated tables, every baseline
and `nova-static` at every split on that workload: the best any fixed split could do in this engine.

`--what-if held-decode` adds one schedule that is not a policy of the runtime: multi-stream, but
no decode step starts while a compute stage runs and at least q requests wait for one (so the
compute stages, which a co-running decode slows by 40-50 % in `overhead_*.json`, get the GPU to
themselves during a burst). It runs on the calibrated tables and on tables corrected to the
overhead study's measured vision and prefill times alone and beside decode (`--overhead`).

    python3 bench/nova_simcheck.py bench/results/nova/bench_qwen2-vl-7b_calibrated.json
    python3 bench/nova_simcheck.py bench/results/nova/bench_qwen2-vl-7b_calibrated.json \
        --what-if held-decode --overhead bench/results/nova/overhead_qwen2-vl-7b.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_json  # noqa: E402
from bench.nova_bound import committed_tables, seed_and_cv, workload_items  # noqa: E402
from runtimes.vlm.scheduler import make_policy  # noqa: E402
from runtimes.vlm.scheduler.calibrate import CalibratedTables  # noqa: E402
from runtimes.vlm.scheduler.plan import DECODE, PREFILL, VISION  # noqa: E402
from runtimes.vlm.scheduler.policies import MultiStream  # noqa: E402
from runtimes.vlm.scheduler.simulate import Arrival, simulate  # noqa: E402
from runtimes.vlm.scheduler.tables import StageTables  # noqa: E402


def arrivals(result: dict, workload: dict, seed: int, cv: float) -> list[Arrival]:
    """The run's requests as the simulator takes them (prompt = image tokens + instruction)."""
    service = result["service_ms"]
    return [
        Arrival(
            it.at_s * 1e3,
            service[it.screen]["patches"],
            service[it.screen]["prompt_tokens"] - 65 + it.prompt_len,
            it.output_len,
        )
        for it in workload_items(workload, seed, cv)
    ]


def frozen(tables: StageTables, corrections: dict) -> CalibratedTables:
    """The tables with a run's corrections applied, learning nothing more while simulated."""
    t = CalibratedTables.seeded(tables, corrections)
    t.learning = False
    return t


def check(result: dict, tables: StageTables, corrections: dict) -> dict:
    seed, cv = seed_and_cv(result.get("command") or result["commands"][0])
    calibrated = frozen(tables, corrections)
    policies = sorted({r["policy"] for r in result["runs"] if "/" not in r["policy"]})
    out = {}
    for w in result["workloads"]:
        arr = arrivals(result, w, seed, cv)
        measured = {
            r["policy"]: r["latency_ms"]["max"]
            for r in result["runs"]
            if r["workload"] == w["name"]
        }
        row = {}
        for name in policies:
            sims = {}
            for label, t in (("profiled", tables), ("calibrated", calibrated)):
                policy = make_policy(name, tables, max_batch=result.get("max_batch", 16))
                if name == "nova" and label == "calibrated":
                    policy.tables = t  # nova decides on the tables the engine taught it
                sims[label] = round(simulate(policy, t, arr).summary()["max_ms"], 1)
            row[name] = {"measured_max_ms": measured.get(name), "simulated_max_ms": sims}
        out[w["name"]] = row
    return out


def sweep(result: dict, tables: StageTables, corrections: dict, workload: str) -> dict:
    """Max latency (ms) of every baseline and of nova-static at each split, on calibrated tables."""
    from runtimes.vlm.scheduler import candidate_splits

    seed, cv = seed_and_cv(result.get("command") or result["commands"][0])
    calibrated = frozen(tables, corrections)
    w = next(x for x in result["workloads"] if x["name"] == workload)
    arr = arrivals(result, w, seed, cv)
    batch = result.get("max_batch", 16)
    out = {
        name: simulate(make_policy(name, tables, max_batch=batch), calibrated, arr).summary()[
            "max_ms"
        ]
        for name in ("multi-stream", "pf-limit", "sequential", "chunk")
    }
    for s in candidate_splits(tables.total_sms):
        policy = make_policy("nova-static", tables, decode_sms=s, max_batch=batch)
        out[f"nova-static/decode_sms={s}"] = simulate(policy, calibrated, arr).summary()["max_ms"]
    return {k: round(v, 1) for k, v in out.items()}


class HeldDecode(MultiStream):
    """What-if schedule (not a runtime policy): multi-stream, except that no decode step starts
    while a compute stage runs or starts and at least `queue` requests wait for compute, unless a
    prefill waits for a KV slot (only decode steps free them)."""

    def __init__(self, tables: StageTables, queue: int, **kw):
        super().__init__(tables, **kw)
        self.queue, self.name = queue, f"held-decode/q={queue}"

    def decide(self, state):
        plan = super().decide(state)
        computing = state.compute_busy or plan.vision or plan.prefill
        starved = state.free_slots == 0 and state.ready
        if computing and state.pending >= self.queue and not starved:
            return dataclasses.replace(
                plan, decode=(), reason=f"decode held: {state.pending} queued"
            )
        return plan


def overhead_corrections(
    tables: StageTables, overhead: dict, learnt: dict, prompt_tokens: int
) -> dict:
    """Corrections that make the tables give `bench/nova_overhead.py`'s vision and prefill times in
    the engine, alone and beside one decode (its `engine` and `engine_with_decode`, measured on one
    screenshot of `overhead["patches"]` patches and `prompt_tokens` prompt tokens); decode keeps the
    corrections nova learnt."""
    patches, tokens = overhead["patches"], prompt_tokens
    out = {k: v for k, v in learnt.items() if k.startswith(DECODE)}
    for stage, size in ((VISION, patches), (PREFILL, tokens)):
        out[f"{stage}|solo"] = {
            "ratio": overhead["engine"][f"{stage}_ms"] / tables.interp(stage, None, size),
            "samples": 99,
        }
        out[f"{stage}|shared"] = {
            "ratio": overhead["engine_with_decode"][f"{stage}_ms"]
            / tables.interp(stage, None, size, DECODE),
            "samples": 99,
        }
    return out


def what_if_held_decode(result: dict, tables: StageTables, table_sets: dict) -> dict:
    """Max latency (ms) of multi-stream and of held decode at several queue thresholds, per workload
    and set of corrected tables."""
    seed, cv = seed_and_cv(result.get("command") or result["commands"][0])
    batch = result.get("max_batch", 16)
    out = {}
    for label, corrections in table_sets.items():
        t = frozen(tables, corrections)
        rows = {}
        for w in result["workloads"]:
            arr = arrivals(result, w, seed, cv)
            policies = [make_policy("multi-stream", tables, max_batch=batch)]
            policies += [HeldDecode(tables, q, max_batch=batch) for q in (1, 2, 4, 8)]
            rows[w["name"]] = {
                p.name: round(simulate(p, t, arr).summary()["max_ms"], 1) for p in policies
            }
        out[label] = rows
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "result", help="a bench/nova_bench.py result with a nova run (its engine calibration)"
    )
    p.add_argument(
        "--tables", default=None, help="profiled tables (default: the committed ones of the preset)"
    )
    p.add_argument("--workload", default="bursty-0.7", help="whose nova row's calibration to apply")
    p.add_argument(
        "--what-if",
        choices=["held-decode"],
        default=None,
        help="also simulate a schedule the runtime does not have (see the module doc)",
    )
    p.add_argument(
        "--overhead",
        default=None,
        help="a bench/nova_overhead.py result: with --what-if, also on tables corrected to it",
    )
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    with open(args.result) as f:
        result = json.load(f)
    tables = StageTables.load(args.tables or committed_tables(result["preset"]))
    nova = [r for r in result["runs"] if r["policy"] == "nova" and r["workload"] == args.workload]
    if not nova or "calibration" not in nova[0].get("engine", {}):
        raise SystemExit(
            f"{args.result} has no nova run of {args.workload} with its engine calibration"
        )
    corrections = nova[0]["engine"]["calibration"]
    checked = check(result, tables, corrections)
    print(
        f"{'workload':>14} {'policy':>14} {'measured s':>11} {'sim profiled':>13} {'sim calibrated':>15}"
    )
    for w, rows in checked.items():
        for name, r in rows.items():
            sim = r["simulated_max_ms"]
            print(
                f"{w:>14} {name:>14} {(r['measured_max_ms'] or 0) / 1e3:11.2f} {sim['profiled'] / 1e3:13.2f} "
                f"{sim['calibrated'] / 1e3:15.2f}"
            )
    swept = sweep(result, tables, corrections, args.workload)
    best = min((k for k in swept if k.startswith("nova-static")), key=swept.get)
    print(
        f"\n{args.workload} on calibrated tables: multi-stream {swept['multi-stream'] / 1e3:.2f} s, "
        f"best fixed split {best} {swept[best] / 1e3:.2f} s, pf-limit {swept['pf-limit'] / 1e3:.2f} s"
    )
    doc = {
        "command": "python3 bench/nova_simcheck.py "
        + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
        "source": os.path.basename(args.result),
        "corrections": corrections,
        "workloads": checked,
        f"sweep_{args.workload}": swept,
    }
    if args.what_if:
        sets = {"calibrated": corrections}
        if args.overhead:
            with open(args.overhead) as f:
                overhead = json.load(f)
            # the overhead study's screenshot is one of the benchmark's: its prompt length comes from there
            screen = next(
                v for v in result["service_ms"].values() if v["patches"] == overhead["patches"]
            )
            sets["overhead"] = overhead_corrections(
                tables, overhead, corrections, screen["prompt_tokens"]
            )
            doc["overhead_corrections"] = sets["overhead"]
        held = doc["what_if_held_decode"] = what_if_held_decode(result, tables, sets)
        print(
            "\nwhat if decode is held while compute runs and >= q requests queue (max latency, s):"
        )
        for label, rows in held.items():
            for w, row in rows.items():
                base = row["multi-stream"]
                print(
                    f"{label:>11} {w:>12} "
                    + "  ".join(
                        f"{k} {v / 1e3:.2f} ({100 * (v / base - 1):+.0f}%)" for k, v in row.items()
                    )
                )
    out = args.out or args.result.replace(".json", "_simcheck.json")
    write_json(out, doc)
    print("wrote", out)


if __name__ == "__main__":
    main()
