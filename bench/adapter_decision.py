"""Adapter decision latency: how long each sizing policy takes to choose a size.

Builds a realistic case — a 5-function image workflow (fetch -> resize -> {classify, watermark}
-> store, SLO 2500ms p99, 4 size options) with synthetic profiles over three input sizes, and the
hint file the synthesizer derives from them — then times a few thousand decisions on random live
states through `controller.adapter.Adapter` for every policy. Baselines in the same run: parsing
the hint text and interpreting its syntax tree on every decision (what a naive adapter would do),
and interpreting a pre-parsed tree.

Prints a table and saves JSON (with the command line) to bench/results/adapter_decision.json.

    python3 -m bench.adapter_decision [--n 5000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime
from types import SimpleNamespace as NS

import hint_dsl
from bench import write_json
from common.sizes import Size
from common.stats import percentile
from controller.adapter import Adapter, NodeState, make_sizing_policy
from hint_dsl.profiles import Profiles, Sample
from hint_dsl.synthesizer import synthesize

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OUTPUT = os.path.join(REPO, "bench", "results", "adapter_decision.json")
OPTIONS = [
    Size(0.25, 128, "xs"),
    Size(0.5, 256, "small"),
    Size(1, 512, "medium"),
    Size(2, 1024, "large"),
]
BASE_MS = {"fetch": 120, "resize": 420, "classify": 380, "watermark": 150, "store": 90}
INPUT_BYTES = [256 * 1024, 1024**2, 4 * 1024**2]


def image_workflow():
    def node(id, *deps):
        return NS(id=id, action=f"guest/{id}", depends=list(deps), foreach=None)

    return NS(
        name="thumbnails",
        slo_ms=2500.0,
        percentile=99.0,
        nodes=[
            node("fetch"),
            node("resize", "fetch"),
            node("classify", "resize"),
            node("watermark", "resize"),
            node("store", "classify", "watermark"),
        ],
    )


def latency_ms(rng: random.Random, function: str, nbytes: int, size: Size, sigma: float) -> float:
    """The latency model: base x sqrt(MB) x cpu^-0.8 (sublinear CPU scaling) x lognormal noise."""
    return (
        BASE_MS[function]
        * (nbytes / 1024**2) ** 0.5
        * size.cpu**-0.8
        * rng.lognormvariate(0, sigma)
    )


def synthetic_profiles(
    rng: random.Random, runs_per_size: int = 20, sigma: float = 0.12
) -> Profiles:
    p = Profiles("thumbnails", {str(o.option): o for o in OPTIONS})
    run = 0
    for nbytes in INPUT_BYTES:
        for _ in range(runs_per_size):
            for fn in BASE_MS:
                for o in OPTIONS:
                    p.add(
                        Sample(
                            fn, str(o.option), latency_ms(rng, fn, nbytes, o, sigma), nbytes, run, 0
                        )
                    )
            run += 1
    return p


def random_states(rng: random.Random, n: int, stats: dict) -> list[NodeState]:
    fns = list(BASE_MS)
    states = []
    for _ in range(n):
        fn = rng.choice(fns)
        remaining = rng.uniform(-100, 2500)
        states.append(
            NodeState(
                workflow="thumbnails",
                function=fn,
                action=f"guest/{fn}",
                slo_ms=2500.0,
                remaining_ms=remaining,
                elapsed_ms=2500.0 - remaining,
                input_bytes=rng.choice(INPUT_BYTES),
                input={"width": float(rng.choice([640, 1920]))},
                upstream={f: rng.uniform(50, 800) for f in fns[: fns.index(fn)]},
                stats=stats,
            )
        )
    return states


def summarize(us: list[float]) -> dict:
    return {
        "n": len(us),
        "p50_us": round(percentile(us, 50) or 0.0, 3),
        "p99_us": round(percentile(us, 99) or 0.0, 3),
        "mean_us": round(sum(us) / len(us), 3),
    }


def time_calls(fn, states) -> list[float]:
    out = []
    for s in states:
        t0 = time.perf_counter_ns()
        fn(s)
        out.append((time.perf_counter_ns() - t0) / 1000.0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="decisions per policy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--output", default=OUTPUT)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    wf = image_workflow()
    profiles = synthetic_profiles(rng)
    synthesis = synthesize(wf, profiles, OPTIONS, grid_ms=50)
    text = synthesis.text
    tree = hint_dsl.parse(text)
    compiled = hint_dsl.compile(tree, [n.id for n in wf.nodes])
    stats = {fn: {"p50": 100.0, "p95": 150.0, "p99": 180.0, "mean": 110.0} for fn in BASE_MS}
    states = random_states(rng, args.n, stats)
    warm = states[: min(500, len(states))]

    rows = {}
    for name in ("early-max", "fixed:medium", "early-static", "stepwise", "late", "oracle"):
        policy = make_sizing_policy(name, wf, hints=compiled, profiles=profiles, options=OPTIONS)
        if name == "oracle":
            policy.plan(
                {
                    fn: {o.option: profiles.tail_ms(fn, o.option, 50) for o in OPTIONS}
                    for fn in BASE_MS
                }
            )
        adapter = Adapter(policy)
        for s in warm:
            adapter.decide(s)
        rows[name] = summarize([adapter.decide(s).decision_us for s in states])
    rows["baseline: parse + interpret per decision"] = summarize(
        time_calls(lambda s: hint_dsl.interpret(hint_dsl.parse(text), s.function, s), states)
    )
    rows["baseline: interpret pre-parsed tree"] = summarize(
        time_calls(lambda s: hint_dsl.interpret(tree, s.function, s), states)
    )
    rows["compiled hints only (no policy, no Decision)"] = summarize(
        time_calls(lambda s: compiled.decide(s.function, s), states)
    )

    print(
        f"hints: {compiled.rule_count()} rules after condensation "
        f"({synthesis.report['rules_before']} grid entries before), "
        f"{synthesis.report['hint_bytes']} bytes; {args.n} decisions per row"
    )
    print(f"{'policy':48s} {'p50 us':>9s} {'p99 us':>9s} {'mean us':>9s}")
    for name, r in rows.items():
        print(f"{name:48s} {r['p50_us']:9.2f} {r['p99_us']:9.2f} {r['mean_us']:9.2f}")

    command = ["python3", "-m", "bench.adapter_decision"] + sys.argv[1:]
    doc = {
        "command": " ".join(command),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpus": os.cpu_count(),
        "decisions": args.n,
        "hints": {
            "rules_after": compiled.rule_count(),
            "rules_before": synthesis.report["rules_before"],
            "bytes": synthesis.report["hint_bytes"],
            "text": text,
        },
        "results": rows,
    }
    write_json(args.output, doc, indent=2)
    print(f"saved {os.path.relpath(args.output, REPO)}")


if __name__ == "__main__":
    main()
