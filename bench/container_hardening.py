"""What the container hardening costs a cold start: confined containers against Tango's earlier
options, same run, interleaved.

A cold start is what the invoker does for a new container: create + start until the runtime
listens, then `/init` (through `DockerBackend` and `ContainerProxy`, the invoker's own code).

- hardened: the invoker's `Confinement` (every capability dropped, no-new-privileges, the
  image's non-root user, on the bridge Tango's `tango-actions` network with inter-container
  traffic off) and a per-container secret that the runtime checks on `/init`;
- baseline: the options before (only NET_RAW and NET_ADMIN dropped, root, Docker's default
  bridge, no secret);
- network-only (bridge mode): the baseline on `tango-actions`, to tell what the isolated network
  costs apart from the rest.

Each round runs all five (variant x network mode) in a shuffled order, so load from other
processes on the host falls on every variant alike; the host's load average is recorded with
every sample. Per mode and variant it reports the median, variant/baseline as the ratio of the
medians with a paired-bootstrap 95 % CI (rounds resampled), and the median of per-round ratios.

    python3 bench/container_hardening.py [--rounds 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import sys
import time
import uuid
from dataclasses import replace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_json  # noqa: E402
from common.stats import paired_bootstrap_ci  # noqa: E402
from invoker.backend import ContainerSpec  # noqa: E402
from invoker.config import PYTHON_IMAGE, InvokerConfig  # noqa: E402
from invoker.container import ContainerProxy  # noqa: E402
from invoker.docker_backend import ISOLATED_NETWORK, Confinement, DockerBackend  # noqa: E402
from invoker.service import container_env  # noqa: E402

BENCH_ID = "hardenbench" + uuid.uuid4().hex[:6]
CODE = "def main(args):\n    return {'echo': args}\n"
INIT = json.dumps(
    {"value": {"name": "echo", "main": "main", "code": CODE, "binary": False, "env": {}}}
).encode()
MODES = ("host", "bridge")
BEFORE = Confinement(  # the container options before the hardening
    cap_drop=("NET_RAW", "NET_ADMIN"), no_new_privileges=False, user="root", bridge_network="bridge"
)
CONFINEMENTS = {
    "baseline": BEFORE,
    "hardened": Confinement(),
    "network-only": replace(BEFORE, bridge_network=ISOLATED_NETWORK),
}
VARIANTS = {"host": ("baseline", "hardened"), "bridge": ("baseline", "network-only", "hardened")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spec(mode: str, variant: str) -> ContainerSpec:
    port = free_port()
    made = ContainerSpec(
        name=f"tango_{BENCH_ID}_{variant}_{mode}_{port}",
        image=PYTHON_IMAGE,
        port=port,
        memory=256,
        cpu=None,
        cpu_shares=128,
        env=container_env(InvokerConfig(container_network=mode), port),
        network=mode,
    )
    return made if variant == "hardened" else replace(made, secret="")  # "": no check


def cold_start_ms(backend: DockerBackend, mode: str, variant: str) -> float:
    t0 = time.perf_counter()
    proxy = ContainerProxy.start(backend, spec(mode, variant), timeout=30)
    try:
        status, body = proxy.init(INIT, 30)
        elapsed = (time.perf_counter() - t0) * 1000
        assert status == 200, (status, body)
    finally:
        proxy.destroy()
    return elapsed


def ratio_of_medians(hardened: list[float], baseline: list[float]) -> float:
    return statistics.median(hardened) / statistics.median(baseline)


def ratio_ci95(
    hardened: list[float], baseline: list[float], rng: random.Random, resamples: int = 10000
) -> tuple[float, float]:
    """95 % bootstrap CI of the ratio of medians, resampling whole rounds (pairs)."""
    return paired_bootstrap_ci(
        list(zip(baseline, hardened, strict=True)),
        lambda pairs: ratio_of_medians([h for _, h in pairs], [b for b, _ in pairs]),
        rng,
        resamples,
    )


def summarize(samples: dict, rng: random.Random) -> dict:
    out = {}
    for mode in MODES:
        b = samples[mode]["baseline"]
        out[mode] = {"median_ms": {"baseline": round(statistics.median(b), 2)}}
        for variant in VARIANTS[mode][1:]:
            v = samples[mode][variant]
            low, high = ratio_ci95(v, b, rng)
            out[mode]["median_ms"][variant] = round(statistics.median(v), 2)
            out[mode][variant] = {
                "ratio_of_medians": round(ratio_of_medians(v, b), 4),
                "ratio_ci95": [round(low, 4), round(high, 4)],
                "median_of_round_ratios": round(
                    statistics.median(x / y for x, y in zip(v, b, strict=True)), 4
                ),
            }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=20, help="cold starts per variant and mode")
    p.add_argument("--seed", type=int, default=1, help="order shuffling and bootstrap")
    p.add_argument(
        "--out",
        default=os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "results", "container_hardening.json"
        ),
    )
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    backends = {v: DockerBackend(BENCH_ID, confinement=c) for v, c in CONFINEMENTS.items()}
    samples: dict[str, dict[str, list[float]]] = {m: {v: [] for v in VARIANTS[m]} for m in MODES}
    raw = []
    load_start = os.getloadavg()
    try:
        for mode in MODES:  # warm-up: image layers, networks, page cache
            for variant in VARIANTS[mode]:
                cold_start_ms(backends[variant], mode, variant)
        for r in range(args.rounds):
            order = [(m, v) for m in MODES for v in VARIANTS[m]]
            rng.shuffle(order)
            for mode, variant in order:
                ms = cold_start_ms(backends[variant], mode, variant)
                samples[mode][variant].append(ms)
                raw.append(
                    {
                        "round": r,
                        "mode": mode,
                        "variant": variant,
                        "ms": round(ms, 3),
                        "load1": os.getloadavg()[0],
                    }
                )
    finally:
        backends["hardened"].remove_leftovers()
    load_end = os.getloadavg()
    summary = summarize(samples, rng)
    print(
        f"{'mode':7} {'variant':13} {'median ms':>10} {'/ baseline':>11} {'95% CI':>16} "
        f"{'round ratios':>13}"
    )
    for mode in MODES:
        s = summary[mode]
        print(f"{mode:7} {'baseline':13} {s['median_ms']['baseline']:10.1f}")
        for variant in VARIANTS[mode][1:]:
            r = s[variant]
            low, high = r["ratio_ci95"]
            print(
                f"{mode:7} {variant:13} {s['median_ms'][variant]:10.1f} "
                f"{r['ratio_of_medians']:11.3f} {f'[{low:.3f}, {high:.3f}]':>16} "
                f"{r['median_of_round_ratios']:13.3f}"
            )
    print(f"load average (1/5/15 min): start {load_start}, end {load_end}")
    result = {
        "command": "python3 bench/container_hardening.py " + " ".join(argv or sys.argv[1:]),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average": {"start": load_start, "end": load_end},
        "rounds": args.rounds,
        "seed": args.seed,
        "summary": summary,
        "raw": raw,
    }
    write_json(args.out, result, indent=1)
    print("saved", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
