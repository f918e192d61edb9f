"""Container life-cycle costs on this host: cold start, prewarm hit, warm run, in-place resize.

    python3 -m bench.invoker_lifecycle [--repeats 10] [--runs 300]

Measures, with real `tango/action-python-v3.11` containers through `DockerBackend` and
`ContainerProxy` (the same code the invoker runs):
  cold start    create + start + wait for the proxy + /init          (target median < 400 ms)
  prewarm hit   resize + /init of an already running stem cell       (target median < 50 ms)
  warm run      /run on an initialized container (the floor)
  invoke warm   POST /invoke through the invoker service, warm path  (overhead over the floor)
  resize        cgroup file write vs the SDK's `container.update`    (target median < 10 ms)
Prints a table and saves bench/results/invoker_lifecycle.json with the command line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import sys
import threading
import time
import uuid

from common.stats import percentile
from invoker.backend import ContainerSpec
from invoker.config import PYTHON_IMAGE, InvokerConfig
from invoker.container import ContainerProxy
from invoker.docker_backend import DockerBackend
from invoker.server import build_server

BENCH_ID = "bench" + uuid.uuid4().hex[:6]
CODE = "def main(args):\n    return {'echo': args}\n"
INIT = json.dumps(
    {"value": {"name": "echo", "main": "main", "code": CODE, "binary": False, "env": {}}}
).encode()
RUN = json.dumps({"value": {"x": 1}, "activation_id": "0" * 32}).encode()
PORTS = iter(range(13400, 13600))


def spec(memory: int = 256) -> ContainerSpec:
    port = next(PORTS)
    return ContainerSpec(
        name=f"tango_{BENCH_ID}_{port}",
        image=PYTHON_IMAGE,
        port=port,
        memory=memory,
        cpu=None,
        cpu_shares=128,
        env={"__OW_PROXY_HOST": "127.0.0.1", "__OW_PROXY_PORT": str(port)},
    )


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(percentile(ordered, 95) or 0.0, 3),
        "min_ms": round(ordered[0], 3),
    }


def bench_cold(backend: DockerBackend, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proxy = ContainerProxy.start(backend, spec(), timeout=30)
        status, _ = proxy.init(INIT, 30)
        samples.append(ms_since(t0))
        assert status == 200
        proxy.destroy()
    return samples


def bench_prewarm(backend: DockerBackend, repeats: int) -> list[float]:
    cells = [ContainerProxy.start(backend, spec(), timeout=30) for _ in range(repeats)]
    time.sleep(1.0)  # stem cells are idle before they are taken
    samples = []
    for proxy in cells:
        t0 = time.perf_counter()
        proxy.resize(1.0, 512)
        status, _ = proxy.init(INIT, 30)
        samples.append(ms_since(t0))
        assert status == 200
        proxy.destroy()
    return samples


def bench_warm_and_resize(backend: DockerBackend, runs: int, repeats: int) -> dict:
    proxy = ContainerProxy.start(backend, spec(), timeout=30)
    try:
        proxy.init(INIT, 30)
        for _ in range(20):
            proxy.run(RUN, 10)
        warm = []
        for _ in range(runs):
            t0 = time.perf_counter()
            proxy.run(RUN, 10)
            warm.append(ms_since(t0))
        # Alternate sizes so every call changes both CPU and memory (down, then up).
        cgroup, sdk = [], []
        for _ in range(repeats * 5):
            cgroup.append(proxy.resize(0.5, 256))
            t0 = time.perf_counter()
            backend.resize_sdk(proxy.handle, 1.5, 512)
            sdk.append(ms_since(t0))
        return {"warm": warm, "cgroup": cgroup, "sdk": sdk}
    finally:
        proxy.destroy()


def bench_invoke_warm(runs: int) -> list[float]:
    config = InvokerConfig(
        id=BENCH_ID + "s", port=0, prewarm=(), pause_grace=None, container_ports=(13600, 13699)
    )
    server, invoker = build_server(config)
    threading.Thread(target=server.run, daemon=True).start()
    conn = http.client.HTTPConnection("127.0.0.1", config.port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    action = {
        "namespace": "guest",
        "name": "echo",
        "path": "guest/echo",
        "version": "0.0.1",
        "exec": {"kind": "python:3.11", "code": CODE, "binary": False, "main": "main"},
        "limits": {"timeout": 10000, "memory": 256, "logs": 10, "concurrency": 1},
    }

    def invoke() -> dict:
        body = json.dumps(
            {
                "activationId": uuid.uuid4().hex,
                "namespace": "guest",
                "action": action,
                "params": {"x": 1},
                "size": None,
            }
        ).encode()
        conn.request("POST", "/invoke", body, {"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())

    try:
        for _ in range(20):
            invoke()
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            record = invoke()
            samples.append(ms_since(t0))
            assert record["statusCode"] == 0, record
        return samples
    finally:
        conn.close()
        invoker.stop()
        server.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=10, help="cold/prewarm/resize repetitions")
    p.add_argument("--runs", type=int, default=300, help="warm runs")
    p.add_argument(
        "--out",
        default=os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "results", "invoker_lifecycle.json"
        ),
    )
    args = p.parse_args(argv)
    backend = DockerBackend(BENCH_ID)
    try:
        cold = bench_cold(backend, args.repeats)
        prewarm = bench_prewarm(backend, args.repeats)
        warm = bench_warm_and_resize(backend, args.runs, args.repeats)
        invoke = bench_invoke_warm(args.runs)
    finally:
        backend.remove_leftovers()
    rows = {
        "cold start (create+start+/init)": (summary(cold), 400.0),
        "prewarm hit (resize+/init)": (summary(prewarm), 50.0),
        "warm /run direct": (summary(warm["warm"]), None),
        "warm POST /invoke via invoker": (summary(invoke), None),
        "resize: cgroup write": (summary(warm["cgroup"]), 10.0),
        "resize: SDK container.update (baseline)": (summary(warm["sdk"]), None),
    }
    print(f"{'measurement':42} {'n':>4} {'median ms':>10} {'p95 ms':>9} {'target':>8}")
    for name, (s, target) in rows.items():
        goal = f"<{target:g}" if target else ""
        print(f"{name:42} {s['n']:>4} {s['median_ms']:>10.3f} {s['p95_ms']:>9.3f} {goal:>8}")
    result = {
        "command": " ".join(["python3 -m bench.invoker_lifecycle", *(argv or sys.argv[1:])]),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": {name: {**s, "target_ms": target} for name, (s, target) in rows.items()},
        "invoker_overhead_median_ms": round(
            summary(invoke)["median_ms"] - summary(warm["warm"])["median_ms"], 3
        ),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"invoker overhead over direct /run (median): {result['invoker_overhead_median_ms']} ms")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
