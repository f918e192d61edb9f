"""Alarm leadership: exactly one controller of a store fires alarms. On PostgreSQL two controllers
(two ``Services`` on one database) share the job store; only the holder of the advisory lock
submits alarm jobs, a job created through the follower is fired by the leader, and when the
leader closes the follower takes over. SQLite: the one controller leads unless ``--no-alarms``."""

from __future__ import annotations

import time

import pytest
from apscheduler.events import EVENT_JOB_SUBMITTED

from controller.app import build_services, create_app
from controller.config import ControllerConfig
from controller.server import parse_args
from tests.controller.conftest import FakeInvoker
from tests.controller.test_alarms import (
    API,
    CODE,
    INTERVAL,
    eventually,
    fires,
    rule_tick_to_a,
    stored_jobs,
)


class Controller:
    """One controller (services + app + fake invoker) on ``db_url``, counting the alarm jobs its
    own scheduler submits."""

    def __init__(self, db_url: str, **config):
        cfg = ControllerConfig(
            db_url=db_url,
            invoker_down_after_s=3600,
            alarm_leader_poll_s=0.3,
            bootstrap_dev_keys=True,
            **config,
        )
        self.services = build_services(cfg)
        self.client = create_app(cfg, self.services, start_jobs=True).test_client()
        self.fake = FakeInvoker()
        self.services.registry.register("invoker0", self.fake.url, 2048, 2.0)
        self.submitted = 0
        self.services.alarm_leader.scheduler.add_listener(self._count, EVENT_JOB_SUBMITTED)

    def _count(self, _event) -> None:
        self.submitted += 1

    @property
    def leading(self) -> bool:
        return self.services.alarm_leader.leading

    def close(self) -> None:
        self.services.close()
        self.fake.close()


def create_alarm(client, guest) -> None:
    """An interval alarm of one second on trigger ``tick`` (no payload of its own) with a rule to
    an action."""
    client.put(f"{API}/actions/a", json=CODE, headers=guest)
    r = client.put(
        f"{API}/triggers/tick",
        headers=guest,
        json={
            "annotations": [{"key": "feed", "value": INTERVAL}],
            "parameters": [{"key": "seconds", "value": 1}],
        },
    )
    assert r.status_code == 200, r.json
    rule_tick_to_a(client, guest)


def test_no_alarms_flag():
    assert parse_args(["--no-alarms"]).alarms is False
    assert parse_args([]).alarms is True


def test_sqlite_controller_leads_unless_told_not_to(tmp_path, guest):
    url = f"sqlite:///{tmp_path / 'tango.db'}"
    quiet = Controller(url, alarms=False)
    try:
        create_alarm(quiet.client, guest)
        assert stored_jobs(quiet.services) == ["alarm:guest/tick"]  # managed, though not fired here
        time.sleep(1.0)  # several leadership polls
        assert not quiet.leading and quiet.submitted == 0
    finally:
        quiet.close()
    leader = Controller(url)
    try:
        assert eventually(lambda: leader.leading)
        fires(leader.services, at_least=1)
        assert leader.submitted >= 1
    finally:
        leader.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_one_controller_of_a_postgres_store_fires_and_a_follower_takes_over(db_url, guest):
    first = Controller(db_url)
    second = Controller(db_url)
    controllers = [first, second]
    try:
        assert eventually(lambda: first.leading or second.leading)
        time.sleep(1.0)  # the follower keeps trying meanwhile and must keep failing
        leader, follower = (first, second) if first.leading else (second, first)
        assert not follower.leading

        create_alarm(follower.client, guest)  # managed through the follower ...
        since = int(time.time() * 1000)
        fires(leader.services, at_least=3, since=since)  # ... fired by the leader only
        assert leader.submitted >= 3 and follower.submitted == 0

        leader.close()
        controllers.remove(leader)
        assert eventually(lambda: follower.leading)
        took_over = int(time.time() * 1000)
        after = fires(follower.services, at_least=2, since=took_over)
        assert follower.submitted >= 2
        assert all(r["response"]["result"] == {} for r in after)
        assert stored_jobs(follower.services) == ["alarm:guest/tick"]
    finally:
        for c in controllers:
            c.close()
