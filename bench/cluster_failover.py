"""Several controllers and invokers on one PostgreSQL store, as separate processes (issue 15):

1. **Start order and a controller crash**: two invokers started 10 s before their two
   controllers (how long until each controller sees both), 20 non-blocking invokes of a 6 s
   action through controller A, A SIGKILLed 2 s later: how many records on B hold the result
   the action returned, and when the last arrived; A restarted: how long until it has the
   invokers back; ``invocationsPerMinute`` 10 across both: how many invokes were accepted.
2. **Kill race and rolling restart**: 8 streams of non-blocking invokes to A, A SIGKILLed after
   1.5 s: ids answered 202 without a final record; then both controllers restarted in turn
   (SIGTERM, start) under a steady blocking load a client spreads over them: served, lost,
   error records, refusals, "No invokers available" once both were back.

The scenario functions are shared with tests/e2e/test_controller_failover.py; ``main`` prints
a table and saves JSON with the command to ``bench/results/cluster_failover.json``.

    TANGO_TEST_PG_URL=postgresql+psycopg2://... python3 bench/cluster_failover.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.platform_process import GUEST_KEY, free_port  # noqa: E402

_USER, _, _KEY = GUEST_KEY.partition(":")
AUTH = (_USER, _KEY)
SLEEP_S, TIMEOUT_MS = 6, 20000
CODE_SLOW = (
    f"import time\n\ndef main(a):\n    time.sleep({SLEEP_S})\n    return {{'n': a.get('n')}}\n"
)
FAST = "import time\n\ndef main(a):\n    time.sleep(0.3)\n    return {'n': a.get('n')}\n"


def wait(check, timeout: float = 60, what: str = "condition") -> float:
    """Poll ``check`` until true; when (wall-clock s) it became true."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return time.time()
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not met in {timeout} s")


def create_database(base: str) -> str:
    name = f"tango_cf_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def drop_database(base: str, url: str) -> None:
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


class Cluster:
    """Controllers ``a`` and ``b`` and invokers ``cf0``, ``cf1`` as ``tango`` processes."""

    def __init__(self, pg_url: str, logs: Path):
        self.pg_url, self.logs = pg_url, logs
        self.token = uuid.uuid4().hex
        self.env = {**os.environ, "TANGO_INTERNAL_TOKEN": self.token}
        self.ports = {"a": free_port(), "b": free_port()}
        self.procs: dict[str, subprocess.Popen] = {}

    def url(self, c: str) -> str:
        return f"http://127.0.0.1:{self.ports[c]}"

    def cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "cli", *args], cwd=REPO, env=self.env, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
        )  # fmt: skip

    def spawn(self, key: str, args: list[str]) -> None:
        self.procs[key] = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            cwd=REPO,
            env=self.env,
            stdout=open(self.logs / f"{key}.log", "a"),
            stderr=subprocess.STDOUT,
        )

    def controller(self, c: str) -> float:
        """Start controller ``c``; when it answered."""
        self.spawn(c, ["controller", "--port", str(self.ports[c]), "--db-url", self.pg_url])
        return wait(lambda: requests.get(self.url(c) + "/ping", timeout=1).status_code == 200)

    def invoker(self, i: int) -> None:
        self.spawn(
            f"inv{i}",
            [
                "invoker", "--id", f"cf{i}", "--port", str(free_port()),
                "--controller", f"{self.url('a')},{self.url('b')}", "--token", self.token,
                "--container-ports", f"{15200 + 100 * i}-{15299 + 100 * i}",
            ],
        )  # fmt: skip

    def invokers_at(self, c: str) -> dict:
        return requests.get(self.url(c) + "/invokers", timeout=2).json()

    def both_up(self, c: str, timeout: float = 30) -> float:
        return wait(lambda: self.invokers_at(c) == {"cf0": "up", "cf1": "up"}, timeout, c)

    def api(self, c: str, method: str, path: str, **kw) -> requests.Response:
        return requests.request(
            method, f"{self.url(c)}/api/v1/namespaces/_{path}", auth=AUTH, timeout=70, **kw
        )

    def final_on(self, c: str, ids, timeout: float) -> dict[str, dict]:
        """The final responses of ``ids`` read from controller ``c`` (those there by then)."""
        finals: dict[str, dict] = {}

        def done() -> bool:
            for aid in set(ids) - set(finals):
                r = self.api(c, "GET", f"/activations/{aid}")
                if r.status_code == 200 and r.json().get("end"):
                    finals[aid] = r.json()["response"]
            return len(finals) == len(ids)

        try:
            wait(done, timeout, "final records")
        except AssertionError:
            pass
        return finals

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        import docker

        for ctr in docker.from_env().containers.list(all=True, filters={"label": "tango.invoker"}):
            if ctr.labels.get("tango.invoker", "").startswith(("cf0-", "cf1-")):
                try:
                    ctr.remove(force=True)
                except (docker.errors.NotFound, docker.errors.APIError):
                    pass  # an invoker that stopped just now removes its own: gone or going


def start_order_and_crash(c: Cluster) -> dict:
    """Scenario 1 (see the module docstring)."""
    c.cli("admin", "--db-url", c.pg_url, "user", "create", "guest", "-u", GUEST_KEY)
    c.invoker(0)
    c.invoker(1)
    time.sleep(10)  # the invokers run (and retry) before any controller exists
    join_s = {}
    for ctl in ("a", "b"):
        ready = c.controller(ctl)
        join_s[ctl] = round(c.both_up(ctl) - ready, 2)
    r = c.api("a", "PUT", "/actions/slow", json={"exec": {"kind": "python:3.11", "code": CODE_SLOW},
                                                  "limits": {"timeout": TIMEOUT_MS}})  # fmt: skip
    assert r.status_code == 200, r.text
    ids = {}
    for n in range(20):
        r = c.api("a", "POST", "/actions/slow", json={"n": n})
        assert r.status_code == 202, r.text
        ids[r.json()["activationId"]] = n
    time.sleep(2)
    c.procs["a"].send_signal(signal.SIGKILL)
    killed = time.time()
    c.procs["a"].wait()
    finals = c.final_on("b", ids, TIMEOUT_MS / 1000 + 30)
    last = time.time() - killed
    real = sum(f["success"] and f["result"] == {"n": ids[aid]} for aid, f in finals.items())
    ready = c.controller("a")
    rejoin_s = round(c.both_up("a") - ready, 2)
    r = c.api("a", "POST", "/actions/slow?blocking=true&result=true", json={"n": 99})
    after_restart = (r.status_code, r.json())
    c.cli("admin", "--db-url", c.pg_url, "limits", "set", "guest", "--invocationsPerMinute", "10")
    time.sleep(6)  # the controllers' key caches
    t0 = time.time()
    accepted = sum(
        c.api("ab"[k % 2], "POST", "/actions/slow", json={"n": k}).status_code == 202
        for k in range(30)
    )
    return {
        "invokers_started_before_controllers_s": 10,
        "join_after_controller_ready_s": join_s,
        "activations_in_flight_at_kill": len(ids),
        "final_records_on_survivor": len(finals),
        "records_with_the_real_result": real,
        "all_final_within_s": round(last, 2) if len(finals) == len(ids) else None,
        "deadline_s": TIMEOUT_MS / 1000 + 30,
        "restarted_controller_has_invokers_after_s": rejoin_s,
        "blocking_invoke_after_restart": after_restart,
        "limit_per_minute": 10,
        "accepted_of_30": accepted,
        "accepted_within_s": round(time.time() - t0, 2),
    }


def kill_race_and_rolling_restart(c: Cluster) -> dict:
    """Scenario 2 (see the module docstring)."""
    c.cli("admin", "--db-url", c.pg_url, "user", "create", "guest", "-u", GUEST_KEY)
    c.controller("a")
    c.controller("b")
    c.invoker(0)
    c.invoker(1)
    c.both_up("a")
    c.both_up("b")
    r = c.api("a", "PUT", "/actions/fast", json={"exec": {"kind": "python:3.11", "code": FAST}})
    assert r.status_code == 200, r.text

    accepted: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def stream() -> None:
        s = requests.Session()
        s.auth = AUTH
        n = 0
        while not stop.is_set():
            n += 1
            try:
                r = s.post(
                    f"{c.url('a')}/api/v1/namespaces/_/actions/fast", json={"n": n}, timeout=10
                )
            except requests.RequestException:
                return
            if r.status_code == 202:
                with lock:
                    accepted[r.json()["activationId"]] = n

    threads = [threading.Thread(target=stream) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    c.procs["a"].send_signal(signal.SIGKILL)
    c.procs["a"].wait()
    stop.set()
    for t in threads:
        t.join(30)
    race = c.final_on("b", accepted, 60 + 30)
    race_real = sum(f["success"] and f["result"] == {"n": accepted[aid]} for aid, f in race.items())
    c.controller("a")
    c.both_up("a")

    answers: list[tuple[float, int, dict]] = []
    stop.clear()

    def load(k: int) -> None:
        s = requests.Session()
        s.auth = AUTH
        n = 0
        while not stop.is_set():
            n += 1
            for ctl in ("ab"[k % 2], "ab"[(k + 1) % 2]):  # the other one when one refuses
                try:
                    r = s.post(
                        f"{c.url(ctl)}/api/v1/namespaces/_/actions/fast?blocking=true",
                        json={"n": n},
                        timeout=70,
                    )
                except requests.RequestException:
                    answers.append((time.time(), 0, {}))
                    continue
                answers.append((time.time(), r.status_code, r.json()))
                if r.status_code != 503:
                    break
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    restarts = {}
    for ctl in ("a", "b"):
        t0 = time.time()
        c.procs[ctl].send_signal(signal.SIGTERM)
        c.procs[ctl].wait(90)
        stopped = time.time()
        c.controller(ctl)
        back = c.both_up(ctl)
        restarts[ctl] = {"drain_s": round(stopped - t0, 2), "down_s": round(back - stopped, 2)}
    back_at = time.time()
    time.sleep(5)
    stop.set()
    for t in threads:
        t.join(90)
    served = {body["activationId"] for _, status, body in answers if status in (200, 202)}
    finals = c.final_on("b", served, 60)
    return {
        "kill_race_accepted": len(accepted),
        "kill_race_final": len(race),
        "kill_race_vanished": len(accepted) - len(race),
        "kill_race_real_results": race_real,
        "rolling_answers": len(answers),
        "rolling_served": len(served),
        "rolling_final": len(finals),
        "rolling_lost": len(served) - len(finals),
        "rolling_error_records": sum(not f["success"] for f in finals.values()),
        "rolling_refused_503": sum(a[1] == 503 for a in answers),
        "rolling_connection_errors": sum(a[1] == 0 for a in answers),
        "rolling_no_invokers_after_back": sum(
            a[0] > back_at and a[1] == 503 and "No invokers" in str(a[2]) for a in answers
        ),
        "rolling_answers_after_back": sum(a[0] > back_at for a in answers),
        "restarts": restarts,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "cluster_failover.json"))
    a = ap.parse_args(argv)
    base = os.environ.get("TANGO_TEST_PG_URL")
    if not base:
        raise SystemExit("set TANGO_TEST_PG_URL (a PostgreSQL URL whose user may create databases)")
    results = {}
    for name, scenario in (
        ("start_order_and_crash", start_order_and_crash),
        ("kill_race_and_rolling_restart", kill_race_and_rolling_restart),
    ):
        url, logs = create_database(base), Path(tempfile.mkdtemp(prefix="tango-cluster-"))
        c = Cluster(url, logs)
        try:
            results[name] = scenario(c)
        finally:
            c.stop()
            drop_database(base, url)
            shutil.rmtree(logs, ignore_errors=True)
    s, r = results["start_order_and_crash"], results["kill_race_and_rolling_restart"]
    print("\ntwo controllers + two invokers + PostgreSQL, separate processes")
    print(
        f"{'invokers started 10 s early: joined after controller ready':62}{s['join_after_controller_ready_s']}"
    )
    print(
        f"{'controller SIGKILL, 20 in flight: real results on survivor':62}{s['records_with_the_real_result']}/20 within {s['all_final_within_s']} s (limit {s['deadline_s']} s)"
    )
    print(
        f"{'restarted controller has the invokers back after':62}{s['restarted_controller_has_invokers_after_s']} s"
    )
    print(f"{'invocationsPerMinute 10 across both: accepted of 30':62}{s['accepted_of_30']}")
    print(
        f"{'kill race: accepted (202) / vanished':62}{r['kill_race_accepted']} / {r['kill_race_vanished']}"
    )
    print(
        f"{'rolling restart: served / lost / error records':62}{r['rolling_served']} / {r['rolling_lost']} / {r['rolling_error_records']}"
    )
    print(
        f"{'rolling restart: refused (503) / No invokers once back':62}{r['rolling_refused_503']} / {r['rolling_no_invokers_after_back']}"
    )
    out = {
        "benchmark": "cluster_failover",
        "command": " ".join([sys.executable, *sys.argv]),
        "date": datetime.now(UTC).isoformat(),
        "host": host_platform.node(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        **results,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2))
    print(f"saved {a.out}")


if __name__ == "__main__":
    main()
