"""How fast the simulator is: 10,000 requests of a 5-node workflow (a diamond and a tail:
a -> {b, c} -> d -> e), on one core, under `late` (hints synthesized by Tango's synthesizer,
evaluated per activation, live model updated per activation) and, as the same-run baseline,
`early-max` (a constant decision). Profiles are synthetic (Amdahl run times over 8 input sizes,
3 repeats each, options 0.5-4 cores): what is measured is the simulator, not a workload.
Target (issue 17): under 10 s on one core, so people can run it interactively.

`late` as shipped rebuilds its model's budget table every 4 observed activations (tens to
hundreds of ms each, in the observing thread: `LatePolicy.rebuild_every`); that, not the
simulator, dominates a late run, so late is timed twice: rebuilding every 1024 observations
on all requests, and as shipped on a twentieth of them.

    python3 bench/janus_sim_perf.py [--requests 10000] [--rate 20] [--cores 16]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.sizes import Size  # noqa: E402
from hint_dsl.profiles import Profiles, Sample  # noqa: E402
from hint_dsl.synthesizer import synthesize  # noqa: E402
from janus_sim import ClusterSpec, Tenant, poisson, shapes_from_profiles, simulate  # noqa: E402
from workflows.definition import load  # noqa: E402

FIVE = """
name: five
slo: {latency: 3000ms, percentile: 99}
nodes:
  - {id: a, action: five/a}
  - {id: b, action: five/b, after: [a]}
  - {id: c, action: five/c, after: [a]}
  - {id: d, action: five/d, after: [b, c]}
  - {id: e, action: five/e, after: [d]}
"""
OPTIONS = [
    Size(0.5, 512, "small"),
    Size(1, 1024, "medium"),
    Size(2, 2048, "large"),
    Size(4, 4096, "xl"),
]
REBUILD = 1024  # late's model rebuilt every 256 observations instead of 4 (see module doc)
T1 = {"a": 80.0, "b": 300.0, "c": 200.0, "d": 150.0, "e": 60.0}
SERIAL = {"a": 0.6, "b": 0.1, "c": 0.3, "d": 0.2, "e": 0.9}


def profiles(workflow, rng: random.Random) -> Profiles:
    p = Profiles(workflow.name, {str(o.option): o for o in OPTIONS}, capacity_cores=16.0)
    for run in range(8):
        scale = 2 ** (run / 2)
        for n in workflow.nodes:
            for o in OPTIONS:
                s = SERIAL[n.id]
                for rep in range(3):
                    ms = T1[n.id] * scale * (s / min(o.cpu, 1) + (1 - s) / o.cpu)
                    p.add(
                        Sample(
                            n.id,
                            str(o.option),
                            ms * rng.lognormvariate(0, 0.1),
                            int(1000 * scale),
                            run,
                            rep,
                            None,
                            {"rows": 1000.0 * scale},
                        )
                    )
    return p


def timed(policy: str, workflow, prof, hints, arrivals, cores, settings=None) -> dict:
    tenant = Tenant(workflow, policy, hints, prof, OPTIONS, settings=settings)
    t0 = time.perf_counter()
    result = simulate(
        [tenant],
        arrivals,
        ClusterSpec(invokers=max(1, cores // 16), cores=min(cores, 16), memory_mb=65536),
    )
    wall = time.perf_counter() - t0
    s = result.summary(0)
    as_shipped = "" if settings else " (as shipped)" if policy == "late" else ""
    return {
        "policy": policy + "".join(f" {k}={v}" for k, v in (settings or {}).items()) + as_shipped,
        "wall_s": wall,
        "requests": len(arrivals),
        "events": result.events,
        "activations": 5 * len(arrivals),
        "sloAttainment": s["sloAttainment"],
        "p99_ms": s["p99_ms"],
        "decision_us": s.get("decision_us"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=1.0, help="requests/s (~45 %% of 16 cores)")
    ap.add_argument("--cores", type=int, default=16)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "janus_sim" / "perf.json"))
    args = ap.parse_args(argv)
    rng = random.Random(1)
    wf = load(FIVE)
    prof = profiles(wf, rng)
    hints = synthesize(wf, prof, OPTIONS, 99, wf.slo_ms).text
    arrivals = poisson(args.rate, args.requests, shapes_from_profiles(wf, prof), rng)
    load_before = os.getloadavg()
    rows = [
        timed("early-max", wf, prof, hints, arrivals, args.cores),
        timed("late", wf, prof, hints, arrivals, args.cores, {"rebuild_every": REBUILD}),
        # late as shipped rebuilds its model every 4 observations: timed on fewer requests
        timed("late", wf, prof, hints, arrivals[: args.requests // 20], args.cores),
    ]
    ratio = rows[1]["wall_s"] / rows[0]["wall_s"]
    lines = [
        f"{'policy':<26} {'requests':>8} {'wall s':>7} {'req/s':>8} {'SLO met':>8} {'decision p99 us':>16}"
    ]
    for r in rows:
        lines.append(
            f"{r['policy']:<26} {r['requests']:>8} {r['wall_s']:>7.2f} "
            f"{r['requests'] / r['wall_s']:>8.0f} {100 * r['sloAttainment']:>7.1f}% "
            f"{r['decision_us']['p99']:>16.1f}"
        )
    lines.append(
        f"late (rebuild_every={REBUILD}) / early-max wall time: {ratio:.2f}x "
        f"(load average {load_before[0]:.1f} on {os.cpu_count()} cores)"
    )
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "command": "python3 bench/janus_sim_perf.py "
                + " ".join(argv if argv is not None else sys.argv[1:]),
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "host": {
                    "cpus": os.cpu_count(),
                    "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg(),
                },
                "target_s": 10.0,
                "table": text,
                "runs": rows,
                "late_over_early_max": ratio,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
