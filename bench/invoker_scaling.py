"""Throughput with one invoker vs two (issue 5 figure: ≥ 1.6× or say what bounds it).

Alternating runs of a platform with 1 and with 2 invokers, each driven by the same ``wrk``
load (blocking invokes of several no-op actions, so the balancer has homes to spread) for a
fixed time. During each load window the benchmark also accounts where the CPU went, from
``/proc/<pid>/stat`` of the controller, the invoker processes and ``wrk``, the cpuacct
cgroups of the action containers, and ``/proc/stat`` for the whole machine (whatever else
runs on it shows up as "other"). Prints a table and saves JSON with the command to
``bench/results/invoker_scaling.json``.

    python3 -m bench.invoker_scaling [--rounds 3] [--seconds 15] [--connections 32] [--actions 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import procs
from bench.invoker_failover import admin_view, invoker_pid
from bench.platform_invoke import AUTH, WRK_LUA, deploy, invoke
from common import platform_process
from common.httpclient import HttpPool

REPO = Path(__file__).resolve().parents[1]


def container_cpu(container_ids: list[str]) -> dict[str, float]:
    """CPU seconds per container (cgroup v1 cpuacct, cgroupfs driver); gone ones are left out."""
    out = {}
    for cid in container_ids:
        try:
            out[cid] = (
                int(Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage").read_text()) / 1e9
            )
        except OSError:
            pass
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / procs.TICK


def platform_containers(pool: HttpPool) -> list[str]:
    import docker

    client = docker.from_env()
    ids = []
    for inv in admin_view(pool):
        for c in inv["containers"]:
            if c["name"]:
                try:
                    ids.append(client.containers.get(c["name"]).id)
                except docker.errors.NotFound:
                    pass
    return ids


def one_run(invokers: int, actions: int, seconds: int, connections: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="tango-scaling-"))
    proc = platform_process.start(work, invokers=invokers)
    try:
        platform_process.lift_throttles(proc)
        pool = HttpPool("127.0.0.1", proc.port)
        names = [f"noop{i}" for i in range(actions)]
        for name in names:
            deploy(pool, name)
        for _ in range(3):  # warm containers on every invoker the load reaches
            for name in names:
                invoke(pool, name)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(WRK_LUA % (", ".join(f'"{n}"' for n in names), AUTH["Authorization"]))
        warm = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", "3s", "-s", f.name, proc.apihost],
            capture_output=True,
            text=True,
        )  # fill the pools to the load's concurrency
        containers = platform_containers(pool)
        box_before = container_cpu(containers)
        pids = {
            "controller": [proc.proc.pid],
            "invokers": [invoker_pid(proc, f"invoker{i}") for i in range(invokers)],
        }
        before = {k: procs.cpu_seconds(v) for k, v in pids.items()}
        before["machine"] = machine_busy()
        wrk = subprocess.Popen(
            [
                "wrk",
                "-t",
                "2",
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "-s",
                f.name,
                proc.apihost,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert wrk.stdout is not None
        out = wrk.stdout.read()  # wrk prints only at the end: no pipe stall
        _, status, rusage = os.wait4(wrk.pid, 0)  # its own CPU use, from the kernel
        wrk.returncode = os.waitstatus_to_exitcode(status)
        after = {k: procs.cpu_seconds(v) for k, v in pids.items()}
        after["machine"] = machine_busy()
        box_after = container_cpu(platform_containers(pool))
        os.unlink(f.name)
        lines = out.splitlines()
        done = int(next(line for line in lines if "requests in" in line).split()[0])
        non2xx = next((int(line.split()[-1]) for line in lines if "Non-2xx" in line), 0)
        cores = {k: (after[k] - before[k]) / seconds for k in before}
        cores["containers"] = (
            sum(v - box_before.get(cid, 0.0) for cid, v in box_after.items()) / seconds
        )
        cores["wrk"] = (rusage.ru_utime + rusage.ru_stime) / seconds
        ours = cores["controller"] + cores["invokers"] + cores["containers"] + cores["wrk"]
        cores["other"] = max(0.0, cores["machine"] - ours)
        per_invoke_ms = {
            k: 1000 * cores[k] * seconds / max(done - non2xx, 1)
            for k in ("controller", "invokers", "containers", "wrk")
        }
        return {
            "invokers": invokers,
            "invokes_per_s": (done - non2xx) / seconds,
            "requests": done,
            "non_2xx": non2xx,
            "warmup_ok": warm.returncode == 0,
            "containers": len(containers),
            "cores": {k: round(v, 3) for k, v in cores.items()},
            "cpu_ms_per_invoke": {k: round(v, 3) for k, v in per_invoke_ms.items()},
        }
    finally:
        proc.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating 1-invoker / 2-invoker pairs")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--actions", type=int, default=4)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "invoker_scaling.json"))
    a = ap.parse_args(argv)
    platform_process.build_images()
    runs = []
    for r in range(a.rounds):
        for n in (1, 2):
            run = one_run(n, a.actions, a.seconds, a.connections)
            run["round"] = r
            runs.append(run)
            print(
                f"round {r} invokers {n}: {run['invokes_per_s']:.0f}/s  cores {run['cores']}",
                flush=True,
            )
    tp = {n: [x["invokes_per_s"] for x in runs if x["invokers"] == n] for n in (1, 2)}
    pair_ratios = [two / one for one, two in zip(tp[1], tp[2], strict=False) if one]
    summary = {
        n: {"median": statistics.median(v), "min": min(v), "max": max(v)} for n, v in tp.items()
    }
    mean_cores = {
        n: {
            k: round(statistics.mean(x["cores"][k] for x in runs if x["invokers"] == n), 3)
            for k in runs[0]["cores"]
        }
        for n in (1, 2)
    }
    cpu_ms = {
        n: {
            k: round(
                statistics.median(x["cpu_ms_per_invoke"][k] for x in runs if x["invokers"] == n), 3
            )
            for k in runs[0]["cpu_ms_per_invoke"]
        }
        for n in (1, 2)
    }
    print(
        f"\nno-op throughput, wrk {a.connections} connections, {a.actions} actions, {a.seconds} s per run, "
        f"{a.rounds} alternating rounds"
    )
    print(
        f"{'':14}{'median/s':>10}{'min':>8}{'max':>8}   cores used (mean): controller, invokers, containers, "
        f"wrk, other, machine"
    )
    for n in (1, 2):
        c = mean_cores[n]
        print(
            f"{n} invoker(s) {summary[n]['median']:>10.0f}{summary[n]['min']:>8.0f}{summary[n]['max']:>8.0f}   "
            f"{c['controller']:.2f}, {c['invokers']:.2f}, {c['containers']:.2f}, {c['wrk']:.2f}, "
            f"{c['other']:.2f}, {c['machine']:.2f}"
        )
    for n in (1, 2):
        total = sum(cpu_ms[n].values())
        print(
            f"{n} invoker(s): CPU ms per invoke (median) {cpu_ms[n]} = {total:.2f} ms -> "
            f"ceiling on {os.cpu_count()} idle cores: {1000 * (os.cpu_count() or 1) / total:.0f}/s"
        )
    ratio = summary[2]["median"] / summary[1]["median"]
    print(
        f"ratio 2/1 (medians): {ratio:.2f}x; per round: {', '.join(f'{x:.2f}' for x in pair_ratios)} "
        f"(target >= 1.6x)"
    )
    result = {
        "benchmark": "invoker_scaling",
        "command": " ".join(["python3 -m bench.invoker_scaling", *sys.argv[1:]]),
        "date": datetime.now(UTC).isoformat(),
        "host": host_platform.node(),
        "cpus": os.cpu_count(),
        "seconds": a.seconds,
        "connections": a.connections,
        "actions": a.actions,
        "throughput": summary,
        "ratio_of_medians": ratio,
        "ratio_per_round": pair_ratios,
        "mean_cores": mean_cores,
        "cpu_ms_per_invoke": cpu_ms,
        "runs": runs,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(f"saved {a.out}")


if __name__ == "__main__":
    main()
