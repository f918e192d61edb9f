"""Platform invoke overhead and sustained warm throughput (issue: platform core figures).

1. **Overhead**: warm blocking invokes of a no-op action through the whole platform
   (client → controller → invoker → container) against direct ``POST /run`` to the *same*
   container, interleaved one by one in the same run, over keep-alive connections with
   TCP_NODELAY. Reports median/p99 of both and of the difference, and the ratio.
2. **Throughput**: several no-op actions invoked (blocking) by ``wrk`` (or a threaded Python
   client when wrk is missing) for a fixed time; then every accepted activation is checked to
   have a final stored record (none lost).
3. **Tail under load**: closed-loop ``wrk --latency`` at 16 and 64 connections (bounded time)
   on one warmed no-op action: p50/p99 of warm invokes, non-2xx (admission's 503s) counted;
   cold starts during the window are counted separately (the controller's
   ``openwhisk_action_coldStarts_total``), after a warm-up at the same concurrency.

Prints a table and saves JSON with the command to ``bench/results/platform_invoke.json``.

    python3 bench/platform_invoke.py [--n 2000] [--seconds 15] [--connections 32] [--actions 4]
                                     [--tail-connections 16,64] [--tail-seconds 10]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform as host_platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import platform_process  # noqa: E402
from common.httpclient import HttpPool  # noqa: E402
from common.platform_process import GUEST_KEY  # noqa: E402
from common.stats import paired_bootstrap_ci  # noqa: E402
from controller.config import SYSTEM_KEY  # noqa: E402

NOOP = "def main(args):\n    return {}\n"
AUTH = {"Authorization": "Basic " + base64.b64encode(GUEST_KEY.encode()).decode()}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def deploy(pool: HttpPool, name: str) -> None:
    status, body = pool.json(
        "PUT",
        f"/api/v1/namespaces/_/actions/{name}?overwrite=true",
        {"exec": {"kind": "python:3.11", "code": NOOP}},
        headers=AUTH,
    )
    if status != 200:
        raise RuntimeError(f"deploy {name}: {status} {body}")


def invoke(pool: HttpPool, name: str) -> dict:
    status, body = pool.json(
        "POST", f"/api/v1/namespaces/_/actions/{name}?blocking=true", {}, headers=AUTH
    )
    if status != 200:
        raise RuntimeError(f"invoke {name}: {status} {body}")
    return body


def container_port_of(pool: HttpPool, action: str) -> int:
    """The loopback port of the warm container that runs ``guest/<action>`` (from the
    controller's admin view of the invokers' pools)."""
    system = {"Authorization": "Basic " + base64.b64encode(SYSTEM_KEY.encode()).decode()}
    status, invokers = pool.json("GET", "/api/v1/admin/invokers", headers=system)
    for inv in invokers:
        for c in inv["containers"]:
            if c["action"] == f"guest/{action}" and c["port"]:
                return int(c["port"])
    raise RuntimeError(f"no warm container for {action}")


def runtime_secret_header(port: int) -> dict:
    """The header the runtime on loopback ``port`` requires on /run: its per-container secret,
    read from Docker (what the operator can do; the action's neighbours cannot)."""
    import docker
    from invoker.backend import SECRET_ENV, SECRET_HEADER

    # other platforms' containers come and go meanwhile (ignore_removed: a vanished one is no
    # error)
    for c in docker.from_env().containers.list(ignore_removed=True):
        env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"] or [] if "=" in e)
        if env.get("__OW_PROXY_PORT") == str(port) and SECRET_ENV in env:
            return {SECRET_HEADER: env[SECRET_ENV]}
    return {}


def overhead(pool: HttpPool, n: int) -> dict:
    deploy(pool, "noop")
    for _ in range(20):
        invoke(pool, "noop")
    port = container_port_of(pool, "noop")
    secret = runtime_secret_header(port)
    direct = HttpPool("127.0.0.1", port, max_idle=1, retry_stale=False)
    run_req = json.dumps({"value": {}}).encode()
    via, dir_, diff = [], [], []
    for _ in range(n):
        t0 = time.perf_counter()
        invoke(pool, "noop")
        t1 = time.perf_counter()
        status, _ = direct.request("POST", "/run", run_req, secret)
        t2 = time.perf_counter()
        assert status == 200
        via.append((t1 - t0) * 1000)
        dir_.append((t2 - t1) * 1000)
        diff.append(via[-1] - dir_[-1])
    direct.close()
    return {
        "n": n,
        "platform_ms": {"median": statistics.median(via), "p99": pct(via, 99)},
        "direct_ms": {"median": statistics.median(dir_), "p99": pct(dir_, 99)},
        "overhead_ms": {"median": statistics.median(diff), "p99": pct(diff, 99)},
        "ratio_median": statistics.median(via) / statistics.median(dir_),
    }


def overhead_vs_baseline(pool: HttpPool, base: HttpPool, n: int) -> dict:
    """Warm blocking no-op invokes on this checkout's platform and on a baseline platform (an
    older commit's code), interleaved one by one in alternating order, so both see the same
    machine load. The difference of medians is what the change costs the hot path."""
    for p in (pool, base):
        deploy(p, "noop")
        for _ in range(20):
            invoke(p, "noop")
    new, old = [], []
    for i in range(n):
        order = ((pool, new), (base, old)) if i % 2 == 0 else ((base, old), (pool, new))
        for p, out in order:
            t0 = time.perf_counter()
            invoke(p, "noop")
            out.append((time.perf_counter() - t0) * 1000)
    return {
        "n": n,
        "this_ms": {"median": statistics.median(new), "p99": pct(new, 99)},
        "baseline_ms": {"median": statistics.median(old), "p99": pct(old, 99)},
        "median_difference_ms": statistics.median(new) - statistics.median(old),
        "median_difference_ci95_ms": list(median_difference_ci95(old, new)),
        "raw_this_ms": new,
        "raw_baseline_ms": old,
    }


def median_difference_ci95(
    old: list[float], new: list[float], seed: int = 1
) -> tuple[float, float]:
    """95 % CI of median(new) - median(old) by a paired bootstrap over the interleaved rounds."""
    return paired_bootstrap_ci(
        list(zip(old, new, strict=True)),
        lambda pairs: (
            statistics.median(n for _, n in pairs) - statistics.median(o for o, _ in pairs)
        ),
        random.Random(seed),
    )


WRK_LUA = """
local names = {%s}
local auth = "%s"
request = function()
  local name = names[math.random(#names)]
  return wrk.format("POST", "/api/v1/namespaces/_/actions/" .. name .. "?blocking=true",
                    {["Authorization"] = auth, ["Content-Type"] = "application/json"}, "{}")
end
"""


def throughput(apihost: str, pool: HttpPool, actions: int, seconds: int, connections: int) -> dict:
    names = [f"tp{i}" for i in range(actions)]
    for name in names:
        deploy(pool, name)
        for _ in range(3):
            invoke(pool, name)
    status, before = pool.json("GET", "/api/v1/namespaces/_/activations?count=true", headers=AUTH)
    before = before["activations"]
    client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk":
        lua = WRK_LUA % (", ".join(f'"{n}"' for n in names), AUTH["Authorization"])
        res = parse_wrk(run_wrk(apihost, lua, seconds, connections))
        requests_done, non2xx, errors_line = res["requests"], res["non_2xx"], res["socket_errors"]
        ok = requests_done - non2xx
    else:
        ok, non2xx, errors_line = _python_load(pool, names, seconds, connections)
        requests_done = ok + non2xx
    time.sleep(2)
    status, after = pool.json("GET", "/api/v1/namespaces/_/activations?count=true", headers=AUTH)
    stored = after["activations"] - before
    status, running = pool.json("GET", "/activation/count")
    return {
        "client": client,
        "seconds": seconds,
        "connections": connections,
        "actions": actions,
        "requests": requests_done,
        "ok": ok,
        "non_2xx": non2xx,
        "socket_errors": errors_line.strip(),
        "invokes_per_s": ok / seconds,
        "stored_records": stored,
        "still_running": running["activations"],
        "lost": max(0, ok - stored),
    }


def _python_load(pool, names, seconds, connections):
    ok = err = 0
    lock = threading.Lock()
    stop = time.time() + seconds

    def worker(i):
        nonlocal ok, err
        while time.time() < stop:
            try:
                invoke(pool, names[i % len(names)])
                with lock:
                    ok += 1
            except RuntimeError:
                with lock:
                    err += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ok, err, ""


def run_wrk(apihost: str, lua: str, seconds: float, connections: int) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        return subprocess.run(
            [
                "wrk",
                "-t",
                "2",
                "-c",
                str(connections),
                "-d",
                f"{round(seconds)}s",
                "--latency",
                "-s",
            ]
            + [f.name, apihost],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(f.name)


WRK_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_ms(value: str) -> float:
    """wrk's latency figure (``812.00us``, ``1.20ms``, ``2.01s``) in milliseconds."""
    for unit in ("us", "ms", "s", "m"):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * WRK_UNIT_MS[unit]
    raise ValueError(f"not a wrk latency: {value!r}")


def parse_wrk(out: str) -> dict:
    """Requests, non-2xx, socket errors and the latency percentiles of ``wrk --latency``."""
    lines = out.splitlines()
    requests = int(next(ln for ln in lines if "requests in" in ln).split()[0])
    non2xx = next((int(ln.split()[-1]) for ln in lines if "Non-2xx" in ln), 0)
    percentiles = {}
    for i, ln in enumerate(lines):
        if ln.strip() == "Latency Distribution":
            for row in lines[i + 1 : i + 5]:
                p, v = row.split()
                percentiles[p.rstrip("%")] = wrk_ms(v)
    return {
        "requests": requests,
        "non_2xx": non2xx,
        "socket_errors": next((ln.strip() for ln in lines if "Socket errors" in ln), ""),
        "latency_ms": percentiles,
    }


def cold_starts(pool: HttpPool) -> int:
    """Cold starts so far (the controller's ``openwhisk_action_coldStarts_total``; /metrics
    needs the operator's key)."""
    system = {"Authorization": "Basic " + base64.b64encode(SYSTEM_KEY.encode()).decode()}
    status, text = pool.request("GET", "/metrics", headers=system)
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("openwhisk_action_coldStarts_total"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def tail(apihost: str, pool: HttpPool, connections: list[int], seconds: float) -> list[dict]:
    """Closed-loop latency of warm blocking no-op invokes at each connection count."""
    deploy(pool, "tail")
    lua = WRK_LUA % ('"tail"', AUTH["Authorization"])
    out = []
    for c in connections:
        run_wrk(apihost, lua, 3, c)  # warm-up at this concurrency: its containers exist
        cold0, load0 = cold_starts(pool), os.getloadavg()[0]
        res = parse_wrk(run_wrk(apihost, lua, seconds, c))
        res.update(
            connections=c,
            seconds=seconds,
            ok_per_s=(res["requests"] - res["non_2xx"]) / seconds,
            cold_starts=cold_starts(pool) - cold0,
            loadavg=load0,
        )
        out.append(res)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="interleaved overhead samples")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--actions", type=int, default=4)
    ap.add_argument(
        "--tail-connections",
        default="16,64",
        help="connection counts of the closed-loop tail runs (wrk; empty: skip)",
    )
    ap.add_argument("--tail-seconds", type=int, default=10)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "platform_invoke.json"))
    ap.add_argument(
        "--baseline-repo",
        default=None,
        metavar="DIR",
        help="also run an older commit's checkout (git worktree add DIR COMMIT) side by side "
        "and compare warm invokes, interleaved (only this comparison is run)",
    )
    ap.add_argument(
        "--code",
        default=None,
        metavar="DIR",
        help="run the platform from another checkout (e.g. git worktree add DIR COMMIT), "
        "measured by this benchmark's phases: a before/after pair on the same host",
    )
    a = ap.parse_args(argv)
    if a.baseline_repo:
        compare(a)
        return
    platform_process.build_images()
    work = Path(tempfile.mkdtemp(prefix="tango-bench-"))
    code = Path(a.code).resolve() if a.code else REPO
    load_before = os.getloadavg()
    proc = platform_process.start(work, repo=code)
    platform_process.lift_throttles(proc)
    try:
        pool = HttpPool("127.0.0.1", proc.port)
        ov = overhead(pool, a.n)
        tp = throughput(proc.apihost, pool, a.actions, a.seconds, a.connections)
        conns = [int(c) for c in a.tail_connections.split(",") if c.strip()]
        tl = (
            tail(proc.apihost, pool, conns, a.tail_seconds) if conns and shutil.which("wrk") else []
        )
    finally:
        proc.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        "\nwarm blocking invoke of a no-op: platform vs direct /run to the same container (interleaved)"
    )
    print(f"{'':24}{'median ms':>12}{'p99 ms':>12}")
    for label, key in (
        ("through the platform", "platform_ms"),
        ("direct POST /run", "direct_ms"),
        ("overhead (difference)", "overhead_ms"),
    ):
        print(f"{label:24}{ov[key]['median']:>12.3f}{ov[key]['p99']:>12.3f}")
    print(
        f"ratio platform/direct (median): {ov['ratio_median']:.2f}x   targets: overhead median <= 2 ms, p99 <= 5 ms"
    )
    print(
        f"\nsustained warm throughput ({tp['client']}, {tp['connections']} connections, {tp['actions']} actions, "
        f"{tp['seconds']} s): {tp['invokes_per_s']:.0f} invokes/s (target >= 600); "
        f"requests {tp['requests']}, non-2xx {tp['non_2xx']}, stored records {tp['stored_records']}, "
        f"lost {tp['lost']}, still running {tp['still_running']}"
    )
    if tl:
        print(
            "\nclosed-loop tail, warm blocking no-op invokes (wrk --latency; "
            "targets p99 <= 30 ms at 16, <= 80 ms at 64)"
        )
        print(
            f"{'connections':>12}{'ok/s':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
            f"{'non-2xx':>9}{'cold':>6}{'load':>6}"
        )
        for r in tl:
            lat = r["latency_ms"]
            print(
                f"{r['connections']:>12}{r['ok_per_s']:>8.0f}{lat.get('50', 0):>9.1f}"
                f"{lat.get('90', 0):>9.1f}{lat.get('99', 0):>9.1f}{r['non_2xx']:>9}"
                f"{r['cold_starts']:>6}{r['loadavg']:>6.1f}"
            )
    result = {
        "benchmark": "platform_invoke",
        "command": " ".join([sys.executable, *sys.argv]),
        "date": datetime.now(UTC).isoformat(),
        "host": host_platform.node(),
        "cpus": os.cpu_count(),
        "code_commit": subprocess.run(
            ["git", "-C", str(code), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "loadavg_before": load_before,
        "overhead": ov,
        "throughput": tp,
        "tail": tl,
        "loadavg_after": os.getloadavg(),
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(f"saved {a.out}")


def compare(a) -> None:
    base_repo = Path(a.baseline_repo).resolve()
    commit = subprocess.run(
        ["git", "-C", str(base_repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    this = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="tango-bench-"))
    load_before = os.getloadavg()
    new = platform_process.start(work / "this")
    try:
        old = platform_process.start(work / "baseline", repo=base_repo)
        try:
            platform_process.lift_throttles(new)
            platform_process.lift_throttles(old)
            res = overhead_vs_baseline(
                HttpPool("127.0.0.1", new.port), HttpPool("127.0.0.1", old.port), a.n
            )
        finally:
            old.stop()
    finally:
        new.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwarm blocking no-op invoke, interleaved, n={res['n']} each (load {load_before})")
    print(f"{'':28}{'median ms':>12}{'p99 ms':>12}")
    print(
        f"{'this (' + this[:8] + ')':28}{res['this_ms']['median']:>12.3f}{res['this_ms']['p99']:>12.3f}"
    )
    print(
        f"{'baseline (' + commit[:8] + ')':28}{res['baseline_ms']['median']:>12.3f}"
        f"{res['baseline_ms']['p99']:>12.3f}"
    )
    low, high = res["median_difference_ci95_ms"]
    print(
        f"median difference: {res['median_difference_ms']:+.3f} ms "
        f"[95 % CI {low:+.3f}, {high:+.3f}] (budget: +1 ms)"
    )
    out = Path(a.out).with_name("platform_invoke_vs_baseline.json")
    out.write_text(
        json.dumps(
            {
                "benchmark": "platform_invoke --baseline-repo",
                "command": " ".join([sys.executable, *sys.argv]),
                "date": datetime.now(UTC).isoformat(),
                "host": host_platform.node(),
                "cpus": os.cpu_count(),
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
                "this_commit": this,
                "baseline_commit": commit,
                **res,
            },
            indent=2,
        )
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
