"""An invoker's clean stop end to end: a platform with two invoker processes, a slow blocking
activation running on one of them, SIGTERM to that invoker's process. It leaves the controller
at once (no longer listed at ``GET /invokers``, so nothing more is routed to it: later invokes
run on the other invoker), finishes the activation it was running within its grace (the
blocking caller gets the real result), then exits and removes its containers."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from bench.invoker_failover import (
    admin_view,
    annotation,
    containers_of,
    invoker_pid,
    slow_code,
)
from common.httpclient import HttpPool
from tests.e2e.conftest import start_platform

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

SLEEP_S = 10  # the running activation: still running when the invoker has left the controller


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:  # a zombie until the standalone reaps it
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def _wait(condition, seconds: float = 60) -> bool:
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def two_invokers(tmp_path):
    p = start_platform(tmp_path / "platform", invokers=2)
    yield p
    p.process.stop()


def test_sigterm_drains_the_invoker_and_takes_it_out_of_routing(two_invokers, tmp_path):
    p = two_invokers
    assert p.api("GET", "/invokers").json() == {"invoker0": "up", "invoker1": "up"}
    (tmp_path / "slow.py").write_text(slow_code(SLEEP_S))
    (tmp_path / "probe.py").write_text(slow_code(0))
    p.tango("action", "create", "slow", str(tmp_path / "slow.py"), "--timeout", "60000")
    p.tango("action", "create", "probe", str(tmp_path / "probe.py"))
    pool = HttpPool("127.0.0.1", p.process.port)

    answer: dict = {}

    def blocking_slow() -> None:
        r = p.api("POST", "/api/v1/namespaces/_/actions/slow?blocking=true&timeout=60000")
        answer["status"], answer["body"] = r.status_code, r.json()

    caller = threading.Thread(target=blocking_slow)
    caller.start()
    busy: list[str] = []
    assert _wait(
        lambda: bool(
            busy.extend(
                inv["id"]
                for inv in admin_view(pool)
                if any(c["state"] == "busy" for c in inv["containers"])
            )
            or busy
        )
    ), "the slow activation never ran"
    victim = busy[0]
    survivor = ({"invoker0", "invoker1"} - {victim}).pop()
    pid = invoker_pid(p.process, victim)

    os.kill(pid, signal.SIGTERM)

    # it leaves the controller while it still runs the activation (no longer listed: before,
    # it stayed 'up' while draining and 'down' after)
    assert _wait(lambda: victim not in p.api("GET", "/invokers").json()), p.process.log()
    assert p.api("GET", "/invokers").json() == {survivor: "up"}
    assert caller.is_alive() and not _gone(pid)  # still draining
    for _ in range(3):  # nothing is routed to it any more
        r = p.api("POST", "/api/v1/namespaces/_/actions/probe?blocking=true")
        assert r.status_code == 200, r.text
        assert annotation(r.json(), "invoker") == survivor

    # the running activation finished there, and its caller got the real result
    caller.join(120)
    assert answer["status"] == 200, answer
    assert answer["body"]["response"]["result"] == {"slept": SLEEP_S}
    assert annotation(answer["body"], "invoker") == victim
    # then it exits and leaves no container behind; nobody registers it again
    assert _wait(lambda: _gone(pid)), p.process.log()
    assert containers_of(p.process, victim) == []
    assert p.api("GET", "/invokers").json() == {survivor: "up"}
    assert f"deregistered from {p.apihost}" in p.process.log()
