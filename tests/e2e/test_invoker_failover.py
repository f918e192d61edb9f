"""Several invokers end to end: a platform with two invokers, 20 activations of a slow action
in flight, one invoker killed with SIGKILL. None is lost: each reaches a final record within
the action timeout + 30 s (whisk internal error for those on the dead invoker), the dead invoker
shows ``down`` at ``GET /invokers``, and new invokes run on the survivor."""

from __future__ import annotations

import time

import pytest

from bench.invoker_failover import failover, slow_code
from tests.e2e.conftest import start_platform

pytestmark = pytest.mark.docker

TIMEOUT_MS = 10000


@pytest.fixture
def two_invokers(tmp_path):
    p = start_platform(tmp_path / "platform", invokers=2)
    yield p
    p.process.stop()


def test_killing_an_invoker_loses_no_activation(two_invokers, tmp_path):
    p = two_invokers
    assert p.api("GET", "/invokers").json() == {"invoker0": "up", "invoker1": "up"}
    (tmp_path / "slow.py").write_text(slow_code(3))
    (tmp_path / "probe.py").write_text(slow_code(0))
    p.tango("action", "create", "slow", str(tmp_path / "slow.py"), "--timeout", str(TIMEOUT_MS))
    p.tango("action", "create", "probe", str(tmp_path / "probe.py"))

    res = failover(p.process, "slow", 20, TIMEOUT_MS, victim="invoker0", probe="probe")

    assert res["lost"] == 0, res
    assert res["in_flight_at_kill"]["invoker0"] > 0 and res["in_flight_at_kill"]["invoker1"] > 0
    assert res["last_final_after_kill_s"] <= res["deadline_s"], res
    assert set(res["statuses"]) <= {"success", "whisk internal error"}, res
    assert (
        res["statuses"].get("whisk internal error", 0) >= 1
        and res["statuses"].get("success", 0) >= 1
    )
    # broken calls make it "unhealthy" at once (or "down" on a refused connection); without
    # heartbeats it is "down" within the controller's down_after_s (10 s)
    assert (
        res["invoker_states"]["invoker0"] in ("unhealthy", "down")
        and res["invoker_states"]["invoker1"] == "up"
    ), res
    deadline = time.time() + 30
    while p.api("GET", "/invokers").json()["invoker0"] != "down" and time.time() < deadline:
        time.sleep(0.5)
    assert p.api("GET", "/invokers").json() == {"invoker0": "down", "invoker1": "up"}
    assert res["probes_after_kill"] == [{"status": 200, "invoker": "invoker1"}] * 3
    survivors = p.tango_json("activation", "list", "slow", "--limit", "50")
    assert len(survivors) == 20
