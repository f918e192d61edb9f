"""Sizing policies compared in simulation: resources used and SLO attainment.

The same 5-function image workflow and synthetic latency model as bench/adapter_decision.py.
Profiles (20 runs per input size) feed the synthesizer and the baselines; then N requests are
simulated: each draws an input size and, per function and option, an actual latency from the same
model (a fresh draw, not the profiled one). The DAG is walked in event order — a function starts
when its last predecessor ends, the policy sizes it with the live remaining budget, its duration
is observed by the policy. Allocated resources: core-seconds = cpu x duration summed over
functions, normalised to early-max (worst-case static sizing, the baseline).

Scenarios: `as-profiled`, and `drift` where classify and store run 35 % slower than profiled
(a noisier neighbour after profiling) — what the late policy's drift correction is for; each
at two levels of run-to-run variability (lognormal sigma 0.12 and 0.3).

    python3 -m bench.adapter_policies [--n 2000] [--seed 1] [--sigma 0.12 0.3]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
from datetime import UTC, datetime

from bench import write_json
from bench.adapter_decision import (
    BASE_MS,
    INPUT_BYTES,
    OPTIONS,
    image_workflow,
    latency_ms,
    synthetic_profiles,
)
from common.stats import percentile
from controller.adapter import NodeState, make_sizing_policy
from hint_dsl.synthesizer import synthesize

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OUTPUT = os.path.join(REPO, "bench", "results", "adapter_policies.json")
POLICY_NAMES = (
    "early-max",
    "early-static",
    "stepwise",
    "late",
    "late (no drift correction)",
    "oracle",
)
SCENARIOS = {"as-profiled": {}, "drift": {"classify": 1.35, "store": 1.35}}


def draw_request(rng, slowdown, sigma):
    """One request: its input size and every function's actual latency at every option."""
    nbytes = rng.choice(INPUT_BYTES)
    return nbytes, {
        fn: {
            o.option: latency_ms(rng, fn, nbytes, o, sigma) * slowdown.get(fn, 1.0) for o in OPTIONS
        }
        for fn in BASE_MS
    }


def simulate(wf, policy, requests, oracle=False):
    sizes = {o.option: o for o in OPTIONS}
    met, core_s, spans, at_risk = 0, 0.0, [], 0
    for nbytes, table in requests:
        if oracle:
            policy.plan(table)
        finish = {}
        for node in wf.nodes:  # topological order; start = last predecessor's end
            start = max((finish[d] for d in node.depends), default=0.0)
            state = NodeState(
                workflow=wf.name,
                function=node.id,
                action=node.action,
                slo_ms=wf.slo_ms,
                remaining_ms=wf.slo_ms - start,
                elapsed_ms=start,
                input_bytes=nbytes,
                upstream={d: finish[d] for d in node.depends},
            )
            decision = policy.decide(state)
            option = decision.size.option
            duration = table[node.id][option]
            policy.observe(node.id, option, duration)
            finish[node.id] = start + duration
            core_s += sizes[option].cpu * duration / 1000.0
            at_risk += decision.at_risk
        span = max(finish.values())
        spans.append(span)
        met += span <= wf.slo_ms
    n = len(requests)
    return {
        "slo_attainment": met / n,
        "core_s_per_request": core_s / n,
        "p99_latency_ms": percentile(spans, 99),
        "at_risk_decisions": at_risk,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="requests per policy and scenario")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--sigma",
        type=float,
        nargs="+",
        default=[0.12, 0.3],
        help="run-to-run variability (lognormal sigma)",
    )
    ap.add_argument("--output", default=OUTPUT)
    args = ap.parse_args()
    wf = image_workflow()
    results, hints = {}, {}
    for sigma in args.sigma:
        rng = random.Random(args.seed)
        profiles = synthetic_profiles(rng, sigma=sigma)
        hints[sigma] = synthesize(wf, profiles, OPTIONS).text
        for scenario, slowdown in SCENARIOS.items():
            requests = [draw_request(rng, slowdown, sigma) for _ in range(args.n)]
            results[f"{scenario} sigma={sigma:g}"] = compare(wf, profiles, hints[sigma], requests)
    print_table(wf, results, args.n)
    save(args, wf, results, hints)


def compare(wf, profiles, hints, requests) -> dict:
    rows = {}
    for name in POLICY_NAMES:
        base = name.split(" ")[0]
        policy = make_sizing_policy(
            base,
            wf,
            hints=hints if base == "late" else None,
            profiles=None if "no drift" in name else profiles,
            options=OPTIONS,
        )
        rows[name] = simulate(wf, policy, requests, oracle=base == "oracle")
    reference = rows["early-max"]["core_s_per_request"]
    for r in rows.values():
        r["core_s_vs_early_max"] = r["core_s_per_request"] / reference
    return rows


def print_table(wf, results, n):
    print(f"workflow {wf.name}: SLO {wf.slo_ms:.0f}ms p{wf.percentile:g}, {n} requests per row")
    print(
        f"{'scenario':22s} {'policy':28s} {'SLO met':>8s} {'core-s/req':>10s} "
        f"{'vs max':>7s} {'p99 ms':>8s}"
    )
    for scenario, rows in results.items():
        for name, r in rows.items():
            print(
                f"{scenario:22s} {name:28s} {r['slo_attainment']:8.1%} "
                f"{r['core_s_per_request']:10.3f} {r['core_s_vs_early_max']:7.2f} "
                f"{r['p99_latency_ms']:8.0f}"
            )


def save(args, wf, results, hints):
    command = ["python3", "-m", "bench.adapter_policies"] + sys.argv[1:]
    doc = {
        "command": " ".join(command),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "requests": args.n,
        "seed": args.seed,
        "slo_ms": wf.slo_ms,
        "percentile": wf.percentile,
        "hints": {f"sigma={k:g}": v for k, v in hints.items()},
        "results": results,
    }
    write_json(args.output, doc, indent=2)
    print(f"saved {os.path.relpath(args.output, REPO)}")


if __name__ == "__main__":
    main()
