"""Does the scheduler's model predict the engine? The simulator against a measured benchmark.

For each workload of a `bench/nova_bench.py` result, replays its arrival sequence (same seed,
rates and request shapes) through `scheduler/simulate.py` for each policy the result ran, twice:
on the profiled stage tables, and on the same tables with the corrections nova's calibration
learnt during that run (`engine.calibration` of the result's nova row) applied. Prints simulated
against measured max latency; the JSON keeps both. Then, on the calibrated tables, every baseline
and `nova-static` at every split on that workload: the best any fixed split could do in this engine.

    python3 bench/nova_simcheck.py bench/results/nova/bench_qwen2-vl-7b_calibrated.json
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_json  # noqa: E402
from bench.nova_bound import committed_tables, seed_and_cv, workload_items  # noqa: E402
from runtimes.vlm.scheduler import make_policy  # noqa: E402
from runtimes.vlm.scheduler.calibrate import CalibratedTables  # noqa: E402
from runtimes.vlm.scheduler.simulate import Arrival, simulate  # noqa: E402
from runtimes.vlm.scheduler.tables import StageTables  # noqa: E402


def arrivals(result: dict, workload: dict, seed: int, cv: float) -> list[Arrival]:
    """The run's requests as the simulator takes them (prompt = image tokens + instruction)."""
    service = result["service_ms"]
    return [Arrival(it.at_s * 1e3, service[it.screen]["patches"],
                    service[it.screen]["prompt_tokens"] - 65 + it.prompt_len, it.output_len)
            for it in workload_items(workload, seed, cv)]


def check(result: dict, tables: StageTables, corrections: dict) -> dict:
    seed, cv = seed_and_cv(result.get("command") or result["commands"][0])
    calibrated = CalibratedTables.seeded(tables, corrections)
    calibrated.learning = False
    policies = sorted({r["policy"] for r in result["runs"] if "/" not in r["policy"]})
    out = {}
    for w in result["workloads"]:
        arr = arrivals(result, w, seed, cv)
        measured = {r["policy"]: r["latency_ms"]["max"] for r in result["runs"] if r["workload"] == w["name"]}
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
    calibrated = CalibratedTables.seeded(tables, corrections)
    calibrated.learning = False
    w = next(x for x in result["workloads"] if x["name"] == workload)
    arr = arrivals(result, w, seed, cv)
    batch = result.get("max_batch", 16)
    out = {name: simulate(make_policy(name, tables, max_batch=batch), calibrated, arr).summary()["max_ms"]
           for name in ("multi-stream", "pf-limit", "sequential", "chunk")}
    for s in candidate_splits(tables.total_sms):
        policy = make_policy("nova-static", tables, decode_sms=s, max_batch=batch)
        out[f"nova-static/decode_sms={s}"] = simulate(policy, calibrated, arr).summary()["max_ms"]
    return {k: round(v, 1) for k, v in out.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("result", help="a bench/nova_bench.py result with a nova run (its engine calibration)")
    p.add_argument("--tables", default=None, help="profiled tables (default: the committed ones of the preset)")
    p.add_argument("--workload", default="bursty-0.7", help="whose nova row's calibration to apply")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    with open(args.result) as f:
        result = json.load(f)
    tables = StageTables.load(args.tables or committed_tables(result["preset"]))
    nova = [r for r in result["runs"] if r["policy"] == "nova" and r["workload"] == args.workload]
    if not nova or "calibration" not in nova[0].get("engine", {}):
        raise SystemExit(f"{args.result} has no nova run of {args.workload} with its engine calibration")
    corrections = nova[0]["engine"]["calibration"]
    checked = check(result, tables, corrections)
    print(f"{'workload':>14} {'policy':>14} {'measured s':>11} {'sim profiled':>13} {'sim calibrated':>15}")
    for w, rows in checked.items():
        for name, r in rows.items():
            sim = r["simulated_max_ms"]
            print(f"{w:>14} {name:>14} {(r['measured_max_ms'] or 0) / 1e3:11.2f} {sim['profiled'] / 1e3:13.2f} "
                  f"{sim['calibrated'] / 1e3:15.2f}")
    swept = sweep(result, tables, corrections, args.workload)
    best = min((k for k in swept if k.startswith("nova-static")), key=swept.get)
    print(f"\n{args.workload} on calibrated tables: multi-stream {swept['multi-stream'] / 1e3:.2f} s, "
          f"best fixed split {best} {swept[best] / 1e3:.2f} s, pf-limit {swept['pf-limit'] / 1e3:.2f} s")
    out = args.out or args.result.replace(".json", "_simcheck.json")
    write_json(out, {"command": "python3 bench/nova_simcheck.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
                     "source": os.path.basename(args.result), "corrections": corrections, "workloads": checked,
                     f"sweep_{args.workload}": swept})
    print("wrote", out)


if __name__ == "__main__":
    main()
