"""Killing an invoker with activations in flight (issue 5 figure): none is lost.

A platform with two invokers runs N non-blocking activations of a slow action (sleeps, so all
are in flight at once: running in containers or buffered in an invoker's pool); then one
invoker process is killed with SIGKILL. Every activation must reach a final record within the
action timeout + 30 s of the kill: those on the survivor succeed, those on the dead invoker end
with a whisk internal error (the controller's HTTP call to it breaks). Afterwards, new invokes
must run on the survivor.

The scenario functions are shared with tests/e2e/test_invoker_failover.py; ``main`` prints a
table and saves JSON with the command to ``bench/results/invoker_failover.json``.

    python3 bench/invoker_failover.py [--n 100] [--sleep 3] [--timeout-ms 10000]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform as host_platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import procs  # noqa: E402
from common import platform_process  # noqa: E402
from common.httpclient import HttpPool  # noqa: E402
from common.platform_process import GUEST_KEY, PlatformProcess  # noqa: E402
from controller.config import SYSTEM_KEY  # noqa: E402

AUTH = {"Authorization": "Basic " + base64.b64encode(GUEST_KEY.encode()).decode()}
ADMIN = {"Authorization": "Basic " + base64.b64encode(SYSTEM_KEY.encode()).decode()}


def slow_code(sleep_s: float) -> str:
    return f"import time\n\ndef main(args):\n    time.sleep({sleep_s})\n    return {{'slept': {sleep_s}}}\n"


def deploy(pool: HttpPool, name: str, code: str, timeout_ms: int) -> None:
    status, body = pool.json(
        "PUT",
        f"/api/v1/namespaces/_/actions/{name}?overwrite=true",
        {"exec": {"kind": "python:3.11", "code": code}, "limits": {"timeout": timeout_ms}},
        headers=AUTH,
    )
    if status != 200:
        raise RuntimeError(f"deploy {name}: {status} {body}")


def invoker_pid(platform: PlatformProcess, invoker_id: str) -> int:
    """The process id of ``invoker.server --id <invoker_id>`` started by this platform."""
    pid = procs.invoker_children(platform.proc.pid).get(invoker_id)
    if pid is None:
        raise RuntimeError(
            f"no process of {invoker_id} under the platform (pid {platform.proc.pid})"
        )
    return pid


def admin_view(pool: HttpPool) -> list[dict]:
    status, body = pool.json("GET", "/api/v1/admin/invokers", headers=ADMIN)
    if status != 200:
        raise RuntimeError(f"admin invoker view: {status} {body}")
    return body


def containers_of(platform: PlatformProcess, invoker_id: str) -> list:
    """The containers labelled as the invoker's (its id scoped by the controller's port, see
    ``InvokerConfig.instance``)."""
    import docker

    return docker.from_env().containers.list(
        all=True, filters={"label": f"tango.invoker={invoker_id}-{platform.port}"}
    )


def wait_reaped(platform: PlatformProcess, invoker_id: str, deadline: float) -> float | None:
    """When (wall-clock s) a dead invoker's containers are gone (the surviving invoker of the
    host removes them once the controller reports it down), None if not by ``deadline``."""
    while time.time() < deadline:
        if not containers_of(platform, invoker_id):
            return time.time()
        time.sleep(0.5)
    return None


def remove_containers(platform: PlatformProcess, invoker_id: str) -> None:
    """Remove what is left of a SIGKILLed invoker's containers."""
    import docker

    for c in containers_of(platform, invoker_id):
        try:
            c.remove(force=True)
        except docker.errors.NotFound:
            pass


def fire(pool: HttpPool, name: str, n: int) -> list[str]:
    """N non-blocking invokes; their activation ids."""
    ids = []
    for _ in range(n):
        status, body = pool.json("POST", f"/api/v1/namespaces/_/actions/{name}", {}, headers=AUTH)
        if status != 202:
            raise RuntimeError(f"invoke {name}: {status} {body}")
        ids.append(body["activationId"])
    return ids


def wait_until_busy(pool: HttpPool, victim: str, timeout: float = 120) -> dict:
    """Wait until the victim runs activations in containers (not only buffered ones)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        inv = next(i for i in admin_view(pool) if i["id"] == victim)
        if any(c["state"] == "busy" for c in inv["containers"]):
            return inv
        time.sleep(0.2)
    raise RuntimeError(f"{victim} never ran an activation")


def final_records(pool: HttpPool, name: str, ids: list[str], deadline: float) -> dict[str, dict]:
    """Poll the store until every id has a final record or the deadline passes."""
    want, done = set(ids), dict[str, dict]()
    while time.time() < deadline and len(done) < len(want):
        status, docs = pool.json(
            "GET", f"/api/v1/namespaces/_/activations?name={name}&docs=true&limit=200", headers=AUTH
        )
        for d in docs if status == 200 else []:
            if d["activationId"] in want and d["response"]["status"] != "running":
                done[d["activationId"]] = d
        time.sleep(0.5)
    return done


def annotation(record: dict, key: str):
    return next((a["value"] for a in record.get("annotations", []) if a["key"] == key), None)


def failover(
    platform: PlatformProcess,
    name: str,
    n: int,
    timeout_ms: int,
    victim: str = "invoker0",
    probe: str | None = None,
    blocking: int = 0,
) -> dict:
    """Fire N activations of ``name`` (deployed, slow; ``blocking`` of them by blocking callers
    in threads), kill ``victim`` once it runs some, and measure when each reached a final record
    and what the blocking callers got; then invoke ``probe`` (default ``name``) 3 times."""
    pool = HttpPool("127.0.0.1", platform.port)
    survivor = next(i["id"] for i in admin_view(pool) if i["id"] != victim)
    callers: list[dict] = []

    def blocking_call() -> None:
        status, body = pool.json(
            "POST",
            f"/api/v1/namespaces/_/actions/{name}?blocking=true",
            {},
            headers=AUTH,
            timeout=timeout_ms / 1000.0 + 120,
        )
        callers.append({"status": status, "id": body.get("activationId") if body else None})

    threads = [threading.Thread(target=blocking_call) for _ in range(blocking)]
    for t in threads:
        t.start()
    ids = fire(pool, name, n - blocking)
    fired_at = time.time()
    victim_view = wait_until_busy(pool, victim)
    in_flight = {i["id"]: i["inFlight"] for i in admin_view(pool)}
    busy_on_victim = sum(c["state"] == "busy" for c in victim_view["containers"])
    pid = invoker_pid(platform, victim)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.time()
    try:
        for t in threads:
            t.join(timeout_ms / 1000.0 + 150)
        ids += [c["id"] for c in callers if c["id"]]
        records = final_records(pool, name, ids, killed_at + timeout_ms / 1000.0 + 30)
        reaped_at = wait_reaped(platform, victim, killed_at + 90)
        reaped_after = round(reaped_at - killed_at, 2) if reaped_at else None
        left = len(containers_of(platform, victim))
    finally:
        remove_containers(platform, victim)  # what the survivor did not reap
    after_kill = [(r["end"] / 1000.0 - killed_at) for r in records.values()]
    statuses = Counter(r["response"]["status"] for r in records.values())
    by_invoker = Counter(
        annotation(r, "invoker") or "(none: error record)" for r in records.values()
    )
    probes = []
    for _ in range(3):
        status, rec = pool.json(
            "POST",
            f"/api/v1/namespaces/_/actions/{probe or name}?blocking=true",
            {},
            headers=AUTH,
            timeout=timeout_ms / 1000.0 + 60,
        )
        probes.append(
            {
                "status": status,
                "invoker": annotation(rec, "invoker") if isinstance(rec, dict) else None,
            }
        )
    status, states = pool.json("GET", "/invokers")
    return {
        "activations": n,
        "ids": len(ids),
        "victim": victim,
        "survivor": survivor,
        "in_flight_at_kill": in_flight,
        "busy_containers_on_victim_at_kill": busy_on_victim,
        "blocking_callers_http": dict(Counter(c["status"] for c in callers)),
        "kill_after_fire_s": round(killed_at - fired_at, 2),
        "final_records": len(records),
        "lost": n - len(records),
        "statuses": dict(statuses),
        "records_by_invoker": dict(by_invoker),
        "deadline_s": timeout_ms / 1000.0 + 30,
        "last_final_after_kill_s": round(max(after_kill), 2) if after_kill else None,
        "containers_reaped_after_kill_s": reaped_after,
        "containers_left": left,
        "probes_after_kill": probes,
        "invoker_states": states,
        "error_messages": sorted(
            {
                r["response"]["result"].get("error", "")
                for r in records.values()
                if r["statusCode"] == 3
            }
        ),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--sleep", type=float, default=3.0, help="seconds the slow action sleeps")
    ap.add_argument("--timeout-ms", type=int, default=10000, help="the slow action's timeout limit")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "invoker_failover.json"))
    a = ap.parse_args(argv)
    platform_process.build_images()
    work = Path(tempfile.mkdtemp(prefix="tango-failover-"))
    proc = platform_process.start(work, invokers=2)
    try:
        pool = HttpPool("127.0.0.1", proc.port)
        deploy(pool, "slow", slow_code(a.sleep), a.timeout_ms)
        deploy(pool, "probe", slow_code(0), a.timeout_ms)
        res = failover(proc, "slow", a.n, a.timeout_ms, probe="probe")
    finally:
        proc.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nkill -9 of {res['victim']} with {res['activations']} activations in flight "
        f"(in flight per invoker at the kill: {res['in_flight_at_kill']})"
    )
    print(
        f"{'final records':34}{res['final_records']:>8} / {res['activations']}  (lost {res['lost']})"
    )
    for status, count in sorted(res["statuses"].items()):
        print(f"{'  ' + status:34}{count:>8}")
    print(
        f"{'last final record after the kill':34}{res['last_final_after_kill_s']:>8} s  "
        f"(deadline: timeout + 30 s = {res['deadline_s']} s)"
    )
    print(
        f"{'invokes after the kill ran on':34}{', '.join(str(p['invoker']) for p in res['probes_after_kill'])}"
    )
    print(f"{'GET /invokers':34}{res['invoker_states']}")
    result = {
        "benchmark": "invoker_failover",
        "command": " ".join([sys.executable, *sys.argv]),
        "date": datetime.now(UTC).isoformat(),
        "host": host_platform.node(),
        "cpus": os.cpu_count(),
        "sleep_s": a.sleep,
        "timeout_ms": a.timeout_ms,
        **res,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(f"saved {a.out}")


if __name__ == "__main__":
    main()
