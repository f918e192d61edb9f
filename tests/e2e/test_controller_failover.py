"""Several controllers and invokers on one store, as separate processes (issue 15).

Two controllers, two invokers and PostgreSQL (scenarios shared with bench/cluster_failover.py):
invokers started 10 s before their controllers join both; a controller SIGKILLed with 20
non-blocking activations in flight loses none (the survivor stores the results the action
really returned); the restarted controller gets the invokers back; invocationsPerMinute holds
across both; a SIGKILL during a stream of non-blocking invokes leaves no accepted id without a
final record; a rolling restart under load loses nothing. The standalone: SIGKILL or SIGTERM of
``tango standalone`` with 20 activations in flight loses none."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests
import sqlalchemy as sa

from bench.cluster_failover import (
    CODE_SLOW,
    TIMEOUT_MS,
    Cluster,
    create_database,
    drop_database,
    kill_race_and_rolling_restart,
    start_order_and_crash,
    wait,
)
from common.platform_process import GUEST_KEY
from tests.conftest import docker_available, require

pytestmark = [pytest.mark.docker, pytest.mark.slow]
AUTH = tuple(GUEST_KEY.split(":"))
CODE = CODE_SLOW


@pytest.fixture
def cluster(tmp_path):
    require(docker_available(), "a running Docker engine")
    base = os.environ.get("TANGO_TEST_PG_URL")
    require(base is not None, "PostgreSQL (TANGO_TEST_PG_URL)")
    c = Cluster(create_database(base), tmp_path)
    yield c
    c.stop()
    drop_database(base, c.pg_url)


@pytest.mark.postgres
def test_two_controllers_lose_nothing_when_one_is_killed(cluster):
    res = start_order_and_crash(cluster)
    # every controller sees both invokers (the test waited for it; the join times are figures)
    assert set(res["join_after_controller_ready_s"]) == {"a", "b"}
    assert res["final_records_on_survivor"] == res["records_with_the_real_result"] == 20, res
    assert res["all_final_within_s"] is not None and res["all_final_within_s"] <= res["deadline_s"]
    assert res["blocking_invoke_after_restart"] == (200, {"n": 99}), res
    assert 1 <= res["accepted_of_30"] <= 11, res  # one limit across both controllers


@pytest.mark.postgres
def test_kill_race_and_rolling_restart(cluster):
    res = kill_race_and_rolling_restart(cluster)
    assert res["kill_race_accepted"] > 0 and res["kill_race_vanished"] == 0, res
    assert res["rolling_served"] > 0 and res["rolling_answers_after_back"] > 0, res
    assert res["rolling_lost"] == 0 and res["rolling_error_records"] == 0, res
    assert res["rolling_no_invokers_after_back"] == 0, res


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
