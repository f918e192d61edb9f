"""The alarm feed: parsing of the three feeds' parameters (pure), and the real APScheduler with
its job store in the controller's SQLite database — a trigger created with an interval feed
fires its rule repeatedly, deleting it removes the job, and the job survives a controller
restart (services built twice on one store) with the documented misfire policy."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from controller.alarms import MISFIRE_GRACE_S, cron_weekdays, job_id, parse_feed, schedule_of
from controller.app import build_services, create_app
from controller.config import ControllerConfig
from controller.errors import ApiError
from tests.controller.conftest import FakeInvoker

API = "/api/v1/namespaces/_"
CODE = {"exec": {"kind": "python:3", "code": "def main(args):\n    return args\n"}}
INTERVAL = "/whisk.system/alarms/interval"


# ---- parsing --------------------------------------------------------------------------------


def test_interval_feed_takes_minutes_or_seconds_and_keeps_other_params_on_the_trigger():
    spec, own = parse_feed(INTERVAL, {"minutes": 2, "trigger_payload": {"a": 1}, "colour": "red"})
    assert (spec.feed, spec.seconds, spec.payload, own) == (
        "interval",
        120,
        {"a": 1},
        {"colour": "red"},
    )
    spec, _ = parse_feed(INTERVAL, {"seconds": "5", "trigger_payload": '{"b": 2}'})
    assert (spec.seconds, spec.payload) == (5, {"b": 2})
    for bad in ({}, {"minutes": 0}, {"minutes": "often"}, {"seconds": 1.5}):
        with pytest.raises(ApiError) as err:
            parse_feed(INTERVAL, bad)
        assert err.value.status == 400 and "interval feed" in err.value.message


def test_alarm_feed_cron_and_once_date():
    spec, _ = parse_feed(
        "/whisk.system/alarms/alarm", {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}
    )
    trigger = schedule_of(spec)
    first = trigger.get_next_fire_time(None, datetime(2030, 1, 5, 12, 0, tzinfo=UTC))  # a Saturday
    assert first.weekday() == 0 and (first.hour, first.minute) == (9, 0)  # Monday 09:00
    with pytest.raises(ApiError, match="cron"):
        parse_feed("/whisk.system/alarms/alarm", {"cron": "every day"})
    with pytest.raises(ApiError, match="not valid"):
        parse_feed("/whisk.system/alarms/alarm", {"cron": "99 * * * *"})
    spec, _ = parse_feed("/whisk.system/alarms/once", {"date": "2030-01-01T00:00:00Z"})
    assert spec.date == datetime(2030, 1, 1, tzinfo=UTC)
    spec, _ = parse_feed("/whisk.system/alarms/once", {"date": 1893456000000})
    assert spec.date == datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ApiError, match="'date'"):
        parse_feed("/whisk.system/alarms/once", {"date": "tomorrow"})


def test_unknown_feed_is_refused_with_the_available_ones():
    with pytest.raises(ApiError) as err:
        parse_feed("/whisk.system/messaging/kafkaFeed", {})
    assert err.value.status == 400 and "/whisk.system/alarms/interval" in err.value.message


def test_crontab_weekdays_count_from_sunday():
    assert cron_weekdays("0") == "sun" and cron_weekdays("7") == "sun"
    assert cron_weekdays("1-5") == "mon-fri" and cron_weekdays("0,6") == "sun,sat"
    assert cron_weekdays("*/2") == "*/2" and cron_weekdays("mon") == "mon"


# ---- the real scheduler and job store -------------------------------------------------------


def start_controller(db_url: str):
    """Services + app with the scheduler running, a fake invoker registered (kept 'up')."""
    cfg = ControllerConfig(db_url=db_url, invoker_down_after_s=3600, bootstrap_dev_keys=True)
    services = build_services(cfg)
    app = create_app(cfg, services, start_jobs=True)
    fake = FakeInvoker()
    services.registry.register("invoker0", fake.url, 2048, 2.0)
    return app.test_client(), services, fake


def stop_controller(services, fake) -> None:
    services.close()
    fake.close()


def alarm_trigger(client, guest, seconds=1):
    client.put(f"{API}/actions/a", json=CODE, headers=guest)
    r = client.put(
        f"{API}/triggers/tick",
        headers=guest,
        json={
            "annotations": [{"key": "feed", "value": INTERVAL}],
            "parameters": [
                {"key": "seconds", "value": seconds},
                {"key": "trigger_payload", "value": {"n": 1}},
                {"key": "own", "value": "kept"},
            ],
        },
    )
    assert r.status_code == 200, r.json
    assert r.json["parameters"] == [{"key": "own", "value": "kept"}]
    rule_tick_to_a(client, guest)


def rule_tick_to_a(client, headers) -> None:
    """Rule ``r``: trigger ``tick`` activates action ``a`` (both in the caller's namespace)."""
    r = client.put(f"{API}/rules/r", json={"trigger": "/_/tick", "action": "/_/a"}, headers=headers)
    assert r.status_code == 200, r.json


def fires(services, at_least: int, timeout: float = 30.0, since: int = 0) -> list[dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        records = [
            r for r in services.activations.list("guest", "tick", limit=200) if r["start"] >= since
        ]
        if len(records) >= at_least:
            return records
        time.sleep(0.1)
    raise AssertionError(f"the alarm fired fewer than {at_least} times in {timeout}s")


def stored_jobs(services) -> list[str]:
    with services.db.engine.connect() as c:
        return [row[0] for row in c.execute(text("SELECT id FROM apscheduler_jobs"))]


def caused_by_fires(services, fake) -> bool:
    trigger_ids = {r["activationId"] for r in services.activations.list("guest", "tick", limit=200)}
    causes = {req["cause"] for req in list(fake.requests)}
    return bool(causes) and causes <= trigger_ids


def eventually(check, timeout: float = 10.0) -> bool:
    """True once ``check()`` holds (a fire caught mid-way by the check completes meanwhile)."""
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_interval_alarm_fires_its_rule_repeatedly_and_delete_removes_the_job(tmp_path, guest):
    client, services, fake = start_controller(f"sqlite:///{tmp_path / 'tango.db'}")
    try:
        alarm_trigger(client, guest)
        assert stored_jobs(services) == [job_id("guest", "tick")]
        records = fires(services, at_least=2)
        assert all(r["response"]["result"] == {"own": "kept", "n": 1} for r in records)
        assert client.delete(f"{API}/triggers/tick", headers=guest).status_code == 200
        assert stored_jobs(services) == []
        assert eventually(
            lambda: caused_by_fires(services, fake)
        )  # every action run came from a fire
    finally:
        stop_controller(services, fake)


def test_alarm_job_survives_a_controller_restart(tmp_path, guest):
    url = f"sqlite:///{tmp_path / 'tango.db'}"
    client, services, fake = start_controller(url)
    try:
        alarm_trigger(client, guest)
        fires(services, at_least=1)
    finally:
        stop_controller(services, fake)
    restarted = int(time.time() * 1000)
    client, services, fake = start_controller(url)
    try:
        job = services.alarm_leader.scheduler.get_job(job_id("guest", "tick"), "alarms")
        assert (
            job is not None and job.coalesce is True and job.misfire_grace_time == MISFIRE_GRACE_S
        )
        after = fires(services, at_least=2, since=restarted)
        assert all(r["response"]["result"] == {"own": "kept", "n": 1} for r in after)
        assert any(req["cause"] in {r["activationId"] for r in after} for req in fake.requests)
    finally:
        stop_controller(services, fake)
