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


def do_no_harm(result: dict, tables: StageTables, corrections: dict) -> dict:
    """Max and mean latency (ms) on the calibrated tables (the engine's truth) of multi-stream and
    of nova with and without the do-no-harm guard, each either deciding on the run's corrections
    from the start ("frozen") or learning them during the run from the profiled tables, as the
    engine's nova does ("learning": the simulator reports each stage time to the policy)."""
    seed, cv = seed_and_cv(result.get("command") or result["commands"][0])
    calibrated = frozen(tables, corrections)
    batch = result.get("max_batch", 16)
    out = {}
    for w in result["workloads"]:
        arr = arrivals(result, w, seed, cv)
        row = {}
        for label, params, learn in (
            ("multi-stream", None, False),
            ("nova/learning", {}, True),
            ("nova/guard=0/learning", {"guard": 0}, True),
            ("nova/frozen", {}, False),
            ("nova/guard=0/frozen", {"guard": 0}, False),
        ):
            name = "multi-stream" if params is None else "nova"
            policy = make_policy(name, tables, max_batch=batch, **(params or {}))
            if name == "nova" and not learn:
                policy.tables = frozen(tables, corrections)
                policy.predictor.tables = policy.tables
            s = simulate(policy, calibrated, arr).summary()
            row[label] = {"max_ms": round(s["max_ms"], 1), "mean_ms": round(s["mean_ms"], 1)}
        out[w["name"]] = row
    return out


def solo_service_ms(tables, a: Arrival) -> float:
    """A request alone on the whole GPU: vision + prefill + its decode steps at batch 1."""
    n = tables.total_sms
    vision = tables.interp(VISION, n, a.patches) if a.patches else 0.0
    return (
        vision
        + tables.interp(PREFILL, n, a.prompt_tokens)
        + (a.new_tokens - 1) * tables.interp(DECODE, n, 1)
    )


def mixed_deadlines(
    result: dict,
    tables: StageTables,
    corrections: dict,
    load: float = 0.8,
    seeds=(1, 2, 3),
    tight: float = 2.0,
    loose: float = 10.0,
) -> dict:
    """The mixed-deadline workload on the calibrated tables: Poisson at `load`, half the requests
    with a deadline of `tight` × their solo service time, half `loose` ×. Every FCFS baseline
    against nova (least slack first, early admission), seeded by the nova row's corrections."""
    from bench.nova_workload import make_workload, with_deadlines

    calibrated = frozen(tables, corrections)
    service = result["service_ms"]
    batch = result.get("max_batch", 16)
    rate = load * result["load_1_rps"]
    out = {}
    for seed in seeds:
        items = make_workload(60, rate, "poisson", seed=seed)

        def arrival(it, deadline_s=None):
            return Arrival(
                it.at_s * 1e3,
                service[it.screen]["patches"],
                service[it.screen]["prompt_tokens"] - 65 + it.prompt_len,
                it.output_len,
                None if deadline_s is None else (it.at_s + deadline_s) * 1e3,
            )

        items = with_deadlines(
            items,
            lambda it: solo_service_ms(calibrated, arrival(it)) / 1e3,
            tight,
            loose,
            seed=seed,
        )
        arr = [arrival(it, it.deadline_s) for it in items]
        row = {}
        for name in ("multi-stream", "pf-limit", "nova-fcfs", "nova"):
            if name == "nova-fcfs":
                policy = make_policy("nova", tables, max_batch=batch, deadlines=False)
            else:
                policy = make_policy(name, tables, max_batch=batch)
            if name.startswith("nova"):
                policy.tables = frozen(tables, corrections)
                policy.predictor.tables = policy.tables
            s = simulate(policy, calibrated, arr).summary()
            row[name] = {
                "attainment": round(s["deadlines"]["attainment"], 3),
                **{k: s["deadlines"][k] for k in ("met", "missed", "refused", "expired")},
                "throughput_rps": round(s["throughput_rps"], 3),
                "max_ms": round(s["max_ms"], 1),
            }
        out[f"seed-{seed}"] = row
    return out


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
        choices=["held-decode", "mixed-deadlines"],
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
    harm = do_no_harm(result, tables, corrections)
    print("\non calibrated tables, max / mean latency (s), nova against multi-stream:")
    for w, row in harm.items():
        base = row["multi-stream"]["max_ms"]
        print(
            f"{w:>14} "
            + "  ".join(
                f"{k} {v['max_ms'] / 1e3:.2f}/{v['mean_ms'] / 1e3:.2f} ({100 * (v['max_ms'] / base - 1):+.1f}%)"
                for k, v in row.items()
            )
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
        "do_no_harm": harm,
    }
    if args.what_if == "mixed-deadlines":
        mixed = doc["what_if_mixed_deadlines"] = mixed_deadlines(result, tables, corrections)
        print("\nmixed deadlines, Poisson 0.8 (attainment, refused, throughput):")
        for seed, row in mixed.items():
            print(
                f"{seed:>8} "
                + "  ".join(
                    f"{k} {v['attainment']:.2f} ref {v['refused']} exp {v['expired']} "
                    f"thr {v['throughput_rps']:.2f}"
                    for k, v in row.items()
                )
            )
    elif args.what_if:
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
