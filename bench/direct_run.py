"""Direct /run latency of the Python runtime: the floor under Tango's invoke overhead.

Measures warm ``POST /run`` of a no-op action sent straight to the action proxy, with no
controller or invoker in between, over one keep-alive connection with TCP_NODELAY (the
platform's own client, ``common.httpclient.HttpPool``, as the invoker uses):

* ``container``: the runtime image in a container with host networking (what the invoker runs);
* ``local process``: the same proxy as a plain process, the baseline without Docker;
* ``cold start``: container create + start + listening + ``/init``, what a cold activation pays
  before its first ``/run``.

Prints a table and saves JSON (with the command line) to ``bench/results/direct_run.json``.
The platform-overhead benchmark reuses ``measure_direct_run(host, port, n)``.

    python3 -m bench.direct_run [--n 2000] [--cold 5] [--image tango/action-python-v3.11:latest]
"""

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from common.httpclient import HttpPool
from common.stats import percentile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROXY = os.path.join(REPO, "runtimes", "python", "proxy.py")
NOOP = "def main(args):\n    return {}\n"
DEFAULT_IMAGE = "tango/action-python-v3.11:latest"
DEFAULT_OUTPUT = os.path.join(REPO, "bench", "results", "direct_run.json")


def measure_direct_run(host, port, n):
    """Latencies (ms) of ``n`` warm ``POST /run`` of an already initialized action."""
    connection = HttpPool(host, port, max_idle=1, retry_stale=False)
    request = json.dumps({"value": {}}).encode()
    latencies = []
    try:
        for _ in range(n):
            start = time.perf_counter()
            status, body = connection.request("POST", "/run", request)
            latencies.append((time.perf_counter() - start) * 1000.0)
            if status != 200:
                raise RuntimeError(f"/run answered {status}: {body[:200]!r}")
    finally:
        connection.close()
    return latencies


def init_action(host, port, code=NOOP):
    """POST /init with ``code``; raise if the proxy refuses it."""
    connection = HttpPool(host, port, max_idle=1, retry_stale=False)
    init = {"value": {"name": "noop", "main": "main", "code": code}}
    try:
        status, body = connection.request("POST", "/init", json.dumps(init).encode())
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"/init answered {status}: {body[:200]!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listened on 127.0.0.1:{port} within {timeout}s"
                ) from None
            time.sleep(0.002)


def start_container(client, image, port):
    """The runtime on the host network, listening on 127.0.0.1:port only."""
    return client.containers.run(
        image,
        detach=True,
        network_mode="host",
        environment={"__OW_PROXY_HOST": "127.0.0.1", "__OW_PROXY_PORT": str(port)},
        labels={"tango.bench": "direct_run"},
    )


def cold_start_ms(client, image):
    """Milliseconds from container create to a successful /init."""
    port = free_port()
    start = time.perf_counter()
    container = start_container(client, image, port)
    try:
        wait_for_port(port)
        init_action("127.0.0.1", port)
        return (time.perf_counter() - start) * 1000.0
    finally:
        container.remove(force=True)


def measure_fresh_proxy(port, n, warmup):
    """Wait for a just-started proxy, /init the no-op, warm up, then time ``n`` runs."""
    wait_for_port(port)
    init_action("127.0.0.1", port)
    measure_direct_run("127.0.0.1", port, warmup)
    return measure_direct_run("127.0.0.1", port, n)


def bench_container(client, image, n, warmup):
    port = free_port()
    container = start_container(client, image, port)
    try:
        return measure_fresh_proxy(port, n, warmup)
    finally:
        container.remove(force=True)


def bench_local_process(n, warmup):
    port = free_port()
    env = {**os.environ, "__OW_PROXY_HOST": "127.0.0.1", "__OW_PROXY_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-u", PROXY], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        return measure_fresh_proxy(port, n, warmup)
    finally:
        process.terminate()
        process.wait(timeout=10)


def summarize(latencies):
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 4),
        "p99_ms": round(percentile(ordered, 99) or 0.0, 4),
        "mean_ms": round(statistics.fmean(ordered), 4),
        "min_ms": round(ordered[0], 4),
        "max_ms": round(ordered[-1], 4),
    }


def print_table(rows):
    print(f"{'case':<16}{'n':>6}{'median ms':>12}{'p99 ms':>10}{'mean ms':>10}")
    for name, s in rows.items():
        print(
            f"{name:<16}{s['n']:>6}{s['median_ms']:>12.3f}{s['p99_ms']:>10.3f}{s['mean_ms']:>10.3f}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="measured /run requests per case")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured /run requests first")
    parser.add_argument("--cold", type=int, default=5, help="cold starts to time (0: skip)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="runtime image to run")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="where to save the JSON")
    args = parser.parse_args(argv)

    import docker  # only here, so measure_direct_run can be imported without the SDK

    client = docker.from_env()
    rows = {
        "container": summarize(bench_container(client, args.image, args.n, args.warmup)),
        "local process": summarize(bench_local_process(args.n, args.warmup)),
    }
    if args.cold:
        cold = [cold_start_ms(client, args.image) for _ in range(args.cold)]
        rows["cold start"] = summarize(cold)
    print_table(rows)

    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        command = ["python3", "-m", "bench.direct_run"] + sys.argv[1:]
        json.dump(
            {
                "command": " ".join(command),
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "image": args.image,
                "results": rows,
            },
            f,
            indent=2,
        )
        f.write("\n")
    print(f"saved {os.path.relpath(args.output)}")


if __name__ == "__main__":
    main()
