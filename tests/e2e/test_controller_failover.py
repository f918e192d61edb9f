"""Two controllers, two invokers and one PostgreSQL store as separate processes, exercised as
operators do (issue 15): invokers started before their controllers join them; a controller
SIGKILLed with 20 non-blocking activations in flight loses none (the survivor stores the
results the action really returned); the restarted controller gets the invokers back; and a
namespace's invocationsPerMinute holds across both controllers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from common.platform_process import GUEST_KEY, REPO, free_port
from tests.conftest import docker_available, require

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.slow]
AUTH = tuple(GUEST_KEY.split(":"))
SLEEP_S, TIMEOUT_MS = 6, 20000
CODE = f"import time\n\ndef main(a):\n    time.sleep({SLEEP_S})\n    return {{'n': a.get('n')}}\n"


@pytest.fixture
def pg_url():
    base = os.environ.get("TANGO_TEST_PG_URL")
    require(base is not None, "PostgreSQL (TANGO_TEST_PG_URL)")
    name = f"tango_cf_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class Cluster:
    def __init__(self, pg_url: str, logs):
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

    def controller(self, c: str) -> None:
        self.spawn(c, ["controller", "--port", str(self.ports[c]), "--db-url", self.pg_url])
        wait(lambda: requests.get(self.url(c) + "/ping", timeout=1).status_code == 200)

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

    def api(self, c: str, method: str, path: str, **kw) -> requests.Response:
        return requests.request(
            method, f"{self.url(c)}/api/v1/namespaces/_{path}", auth=AUTH, timeout=60, **kw
        )

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def wait(check, timeout: float = 60, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} not met in {timeout} s")


@pytest.fixture
def cluster(pg_url, tmp_path):
    require(docker_available(), "a running Docker engine")
    c = Cluster(pg_url, tmp_path)
    yield c
    c.stop()
    import docker

    for ctr in docker.from_env().containers.list(all=True, filters={"label": "tango.invoker"}):
        if any(ctr.labels.get("tango.invoker", "").startswith(f"cf{i}-") for i in (0, 1)):
            ctr.remove(force=True)


def test_two_controllers_lose_nothing_when_one_is_killed(cluster):
    c = cluster
    c.cli("admin", "--db-url", c.pg_url, "user", "create", "guest", "-u", GUEST_KEY)
    # invokers first: their controllers do not exist yet
    c.invoker(0)
    c.invoker(1)
    time.sleep(10)
    c.controller("a")
    c.controller("b")
    for ctl in ("a", "b"):  # every controller sees every invoker
        wait(lambda ctl=ctl: c.invokers_at(ctl) == {"cf0": "up", "cf1": "up"}, 30, "join")
    r = c.api("a", "PUT", "/actions/slow", json={"exec": {"kind": "python:3.11", "code": CODE},
                                                  "limits": {"timeout": TIMEOUT_MS}})  # fmt: skip
    assert r.status_code == 200, r.text
    ids = {}
    for n in range(20):
        r = c.api("a", "POST", "/actions/slow", json={"n": n})
        assert r.status_code == 202, r.text
        ids[r.json()["activationId"]] = n
    time.sleep(2)
    c.procs["a"].send_signal(signal.SIGKILL)
    c.procs["a"].wait()

    finals: dict[str, dict] = {}

    def all_final() -> bool:
        for aid in set(ids) - set(finals):
            r = c.api("b", "GET", f"/activations/{aid}")
            if r.status_code == 200 and r.json().get("end"):
                finals[aid] = r.json()
        return len(finals) == len(ids)

    wait(all_final, TIMEOUT_MS / 1000 + 30, "every activation final on the survivor")
    results = {aid: rec["response"] for aid, rec in finals.items()}
    assert all(r["success"] for r in results.values()), results
    assert {aid: r["result"] for aid, r in results.items()} == {
        aid: {"n": n} for aid, n in ids.items()
    }

    # the restarted controller gets both invokers back (they register again on its 404)
    c.controller("a")
    wait(lambda: c.invokers_at("a") == {"cf0": "up", "cf1": "up"}, 30, "re-registration")
    r = c.api("a", "POST", "/actions/slow?blocking=true&result=true", json={"n": 99})
    assert r.status_code == 200 and r.json() == {"n": 99}

    # one namespace limit across both controllers (divided among the live ones)
    c.cli("admin", "--db-url", c.pg_url, "limits", "set", "guest", "--invocationsPerMinute", "10")
    time.sleep(6)  # the controllers' key caches
    accepted = sum(
        c.api("ab"[k % 2], "POST", "/actions/slow", json={"n": k}).status_code == 202
        for k in range(30)
    )
    assert 1 <= accepted <= 11, accepted


# ---- standalone: the controller runs in the `tango standalone` process -----------------------


def fire_slow(p, n: int) -> dict[str, int]:
    ids = {}
    for k in range(n):
        r = requests.post(
            f"{p.apihost}/api/v1/namespaces/_/actions/slow", json={"n": k}, auth=AUTH, timeout=30
        )
        assert r.status_code == 202, r.text
        ids[r.json()["activationId"]] = k
    return ids


def final_results(p, ids: dict[str, int], timeout: float) -> dict[str, dict]:
    finals: dict[str, dict] = {}

    def done() -> bool:
        for aid in set(ids) - set(finals):
            r = requests.get(f"{p.apihost}/api/v1/namespaces/_/activations/{aid}", auth=AUTH)
            if r.status_code == 200 and r.json().get("end"):
                finals[aid] = r.json()["response"]
        return len(finals) == len(ids)

    wait(done, timeout, "every activation final")
    return finals


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_standalone_controller_stop_loses_nothing(tmp_path, sig):
    from common import platform_process

    require(docker_available(), "a running Docker engine")
    platform_process.build_images()
    p = platform_process.start(tmp_path)
    try:
        r = requests.put(
            f"{p.apihost}/api/v1/namespaces/_/actions/slow",
            auth=AUTH,
            json={"exec": {"kind": "python:3.11", "code": CODE}, "limits": {"timeout": TIMEOUT_MS}},
        )
        assert r.status_code == 200, r.text
        ids = fire_slow(p, 20)
        time.sleep(2)
        os.kill(p.proc.pid, sig)  # the standalone process only (its invokers run on)
        p.proc.wait(90)
        if sig == signal.SIGTERM:  # drained: every record final before the process ended
            db = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'tango.db'}")
            with db.connect() as c:
                states = c.execute(
                    sa.text("SELECT state, count(*) FROM activations GROUP BY state")
                )
                assert dict(states.all()) == {"done": 20}
            db.dispose()
        # started again on the same port and store: it adopts the invokers still running
        p = platform_process.start(tmp_path, port=p.port)
        finals = final_results(p, ids, TIMEOUT_MS / 1000 + 30)
        assert {aid: r["result"] for aid, r in finals.items()} == {
            aid: {"n": n} for aid, n in ids.items()
        }
        assert all(r["success"] for r in finals.values()), finals
        if sig == signal.SIGKILL:
            assert "adopting invoker0" in p.log()
    finally:
        p.stop()


FAST = "import time\n\ndef main(a):\n    time.sleep(0.3)\n    return {'n': a.get('n')}\n"


def test_kill_race_and_rolling_restart(cluster):
    """SIGKILL of a controller during a stream of non-blocking invokes: every id answered 202
    gets a final record. Then both controllers are restarted in turn (SIGTERM, start) under a
    steady load that a client spreads over them (the other one when one refuses): nothing is
    lost, no error record, and no "No invokers available" once both are back."""
    c = cluster
    c.cli("admin", "--db-url", c.pg_url, "user", "create", "guest", "-u", GUEST_KEY)
    c.controller("a")
    c.controller("b")
    c.invoker(0)
    c.invoker(1)
    for ctl in ("a", "b"):
        wait(lambda ctl=ctl: c.invokers_at(ctl) == {"cf0": "up", "cf1": "up"}, 30, "join")
    r = c.api("a", "PUT", "/actions/fast", json={"exec": {"kind": "python:3.11", "code": FAST}})
    assert r.status_code == 200, r.text

    # -- kill race: 8 connections of non-blocking invokes to A, A killed after 1.5 s
    accepted: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def stream(k: int) -> None:
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

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    c.procs["a"].send_signal(signal.SIGKILL)
    c.procs["a"].wait()
    stop.set()
    for t in threads:
        t.join(30)
    assert accepted
    finals = final_on(c, "b", accepted, 60 + 30)
    print(f"kill race: {len(accepted)} accepted by A before its SIGKILL")
    assert len(finals) == len(accepted)  # none vanished
    assert {aid: r["result"] for aid, r in finals.items() if r["success"]} == {
        aid: {"n": n} for aid, n in accepted.items() if finals[aid]["success"]
    }
    c.controller("a")
    wait(lambda: c.invokers_at("a") == {"cf0": "up", "cf1": "up"}, 30, "re-registration")

    # -- rolling restart under a steady load
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
                    continue
                answers.append((time.time(), r.status_code, r.json()))
                if r.status_code != 503:
                    break
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    for ctl in ("a", "b"):
        c.procs[ctl].send_signal(signal.SIGTERM)
        c.procs[ctl].wait(90)
        c.controller(ctl)
        wait(lambda ctl=ctl: c.invokers_at(ctl) == {"cf0": "up", "cf1": "up"}, 30, "back")
    back_at = time.time()
    time.sleep(5)
    stop.set()
    for t in threads:
        t.join(90)
    served = {body["activationId"]: body for _, status, body in answers if status in (200, 202)}
    assert served and any(t > back_at for t, _, _ in answers)
    no_invokers = [a for a in answers if a[1] == 503 and "No invokers" in str(a[2])]
    print(
        f"rolling restart: {len(answers)} answers, {len(served)} served, "
        f"{sum(a[1] == 503 for a in answers)} refused (503), {len(no_invokers)} no-invokers"
    )
    assert [a for a in no_invokers if a[0] > back_at] == []
    finals = final_on(c, "b", {aid: 0 for aid in served}, 60)
    assert len(finals) == len(served)  # 0 lost
    assert all(r["success"] for r in finals.values()), [
        r for r in finals.values() if not r["success"]
    ]


def final_on(c: Cluster, ctl: str, ids: dict[str, int], timeout: float) -> dict[str, dict]:
    finals: dict[str, dict] = {}

    def done() -> bool:
        for aid in set(ids) - set(finals):
            r = c.api(ctl, "GET", f"/activations/{aid}")
            if r.status_code == 200 and r.json().get("end"):
                finals[aid] = r.json()["response"]
        return len(finals) == len(ids)

    try:
        wait(done, timeout, "final records")
    except AssertionError:
        pass
    return finals
