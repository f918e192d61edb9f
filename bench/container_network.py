"""Host network vs Docker bridge for action containers: what `--container-network bridge` costs.

Same run, same image, alternating modes: cold start (create + start + /init until the runtime
answers) and warm /run round trips through the invoker's keep-alive connection, on the host
network (the runtime on its own loopback port) and on the bridge (the runtime's port published
on 127.0.0.1 through Docker). Prints medians and bridge/host ratios, saves JSON.

    python3 -m bench.container_network [--repeats 10] [--runs 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid

from bench import write_json
from invoker.backend import ContainerSpec
from invoker.config import PYTHON_IMAGE, InvokerConfig
from invoker.container import ContainerProxy
from invoker.docker_backend import DockerBackend
from invoker.service import container_env

BENCH_ID = "netbench" + uuid.uuid4().hex[:6]
CODE = "def main(args):\n    return {'echo': args}\n"
INIT = json.dumps(
    {"value": {"name": "echo", "main": "main", "code": CODE, "binary": False, "env": {}}}
).encode()
RUN = json.dumps({"value": {"x": 1}, "activation_id": "0" * 32}).encode()
PORTS = iter(range(13700, 13900))
MODES = ("host", "bridge")


def spec(network: str) -> ContainerSpec:
    port = next(PORTS)
    cfg = InvokerConfig(container_network=network)
    return ContainerSpec(
        name=f"tango_{BENCH_ID}_{port}",
        image=PYTHON_IMAGE,
        port=port,
        memory=256,
        cpu=None,
        cpu_shares=128,
        env=container_env(cfg, port),
        network=network,
    )


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=10, help="cold starts per mode")
    p.add_argument("--runs", type=int, default=300, help="warm /run round trips per mode")
    p.add_argument(
        "--out",
        default=os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "results", "container_network.json"
        ),
    )
    args = p.parse_args(argv)
    backend = DockerBackend(BENCH_ID)
    cold: dict[str, list[float]] = {m: [] for m in MODES}
    warm: dict[str, list[float]] = {m: [] for m in MODES}
    try:
        for _ in range(args.repeats):  # alternate, so drift hits both modes alike
            for mode in MODES:
                t0 = time.perf_counter()
                proxy = ContainerProxy.start(backend, spec(mode), timeout=30)
                status, _ = proxy.init(INIT, 30)
                cold[mode].append(ms(t0))
                assert status == 200, status
                proxy.destroy()
        proxies = {}
        for mode in MODES:
            proxies[mode] = ContainerProxy.start(backend, spec(mode), timeout=30)
            proxies[mode].init(INIT, 30)
            for _ in range(20):
                proxies[mode].run(RUN, 10)
        for _ in range(args.runs):
            for mode in MODES:
                t0 = time.perf_counter()
                proxies[mode].run(RUN, 10)
                warm[mode].append(ms(t0))
        for proxy in proxies.values():
            proxy.destroy()
    finally:
        backend.remove_leftovers()
    med = {
        k: {m: round(statistics.median(v[m]), 3) for m in MODES}
        for k, v in (("cold", cold), ("warm", warm))
    }
    print(f"{'measurement':28} {'host ms':>9} {'bridge ms':>10} {'bridge/host':>12}")
    for name, key in (("cold start (create+/init)", "cold"), ("warm /run round trip", "warm")):
        h, b = med[key]["host"], med[key]["bridge"]
        print(f"{name:28} {h:9.3f} {b:10.3f} {b / h:12.2f}")
    result = {
        "command": "python3 -m bench.container_network " + " ".join(argv or sys.argv[1:]),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "median_ms": med,
        "ratio_bridge_over_host": {k: round(v["bridge"] / v["host"], 3) for k, v in med.items()},
        "n": {"cold": args.repeats, "warm": args.runs},
    }
    write_json(args.out, result, indent=2)
    print("saved", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
