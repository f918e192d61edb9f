"""The built-in feed actions driven as wsk drives them, through the Flask test client on a real
store and scheduler: the shared package ``/whisk.system/alarms``, CREATE → job → fires, READ,
PAUSE/UNPAUSE, DELETE → job gone, and the application errors (bad cron, missing trigger, an
``authKey`` that is invalid or owns another namespace); and that another namespace may invoke only
a *published* package's actions."""

from __future__ import annotations

import pytest

from controller.config import GUEST_KEY
from controller.errors import ApiError
from controller.feeds import parse_event
from tests.controller.conftest import basic
from tests.controller.test_alarms import (
    API,
    CODE,
    fires,
    rule_tick_to_a,
    start_controller,
    stop_controller,
    stored_jobs,
)

FEED_API = "/api/v1/namespaces/whisk.system/actions/alarms"


@pytest.fixture
def controller(tmp_path):
    client, services, fake = start_controller(f"sqlite:///{tmp_path / 'tango.db'}")
    yield client, services
    stop_controller(services, fake)


def feed(
    client,
    auth,
    feed_name: str,
    event: str,
    trigger: str = "/_/tick",
    key: str = GUEST_KEY,
    **params,
):
    """Invoke a feed action the way wsk's ``configureFeed`` does (blocking, full record)."""
    body = {"lifecycleEvent": event, "triggerName": trigger, "authKey": key, **params}
    return client.post(f"{FEED_API}/{feed_name}?blocking=true", json=body, headers=auth)


def wsk_trigger(client, auth, feed_name: str = "interval"):
    """wsk's first step: the trigger with only the feed annotation; and a rule to an action."""
    r = client.put(
        f"{API}/triggers/tick",
        headers=auth,
        json={"annotations": [{"key": "feed", "value": f"/whisk.system/alarms/{feed_name}"}]},
    )
    assert r.status_code == 200, r.json
    client.put(f"{API}/actions/a", json=CODE, headers=auth)
    rule_tick_to_a(client, auth)


def test_parse_event_names_what_is_missing():
    event = parse_event(
        {
            "lifecycleEvent": "create",
            "triggerName": "/guest/t",
            "authKey": "u:k",
            "cron": "* * * * *",
        }
    )
    assert (event.event, event.namespace, event.trigger, event.params) == (
        "CREATE",
        "guest",
        "t",
        {"cron": "* * * * *"},
    )
    assert (
        parse_event({"lifecycleEvent": "READ", "triggerName": "t", "authKey": "u:k"}).namespace
        == "_"
    )
    for bad, word in (
        ({}, "lifecycleEvent"),
        ({"lifecycleEvent": "CREATE"}, "triggerName"),
        ({"lifecycleEvent": "CREATE", "triggerName": "/_/t"}, "authKey"),
    ):
        with pytest.raises(ApiError, match=word):
            parse_event(bad)


def test_alarms_package_is_shared_and_lists_its_feeds(controller, guest):
    client, _ = controller
    r = client.get("/api/v1/namespaces/whisk.system/packages/alarms", headers=guest)
    assert r.status_code == 200 and r.json["publish"] is True
    assert sorted(f["name"] for f in r.json["feeds"]) == ["alarm", "interval", "once"]
    assert all({"key": "feed", "value": True} in f["annotations"] for f in r.json["feeds"])
    listed = client.get("/api/v1/namespaces/whisk.system/packages?public=true", headers=guest).json
    # utils: controller.utils_package
    assert sorted(p["name"] for p in listed) == ["alarms", "utils"]


def test_feed_lifecycle_create_fires_read_pause_delete(controller, guest):
    client, services = controller
    wsk_trigger(client, guest)
    assert stored_jobs(services) == []  # the PUT alone registers nothing
    r = feed(client, guest, "interval", "CREATE", seconds=1, trigger_payload={"n": 1})
    assert r.status_code == 200, r.json
    assert r.json["statusCode"] == 0 and r.json["namespace"] == "guest"
    assert {"key": "path", "value": "whisk.system/alarms/interval"} in r.json["annotations"]
    assert r.headers["x-openwhisk-activation-id"] == r.json["activationId"]
    assert stored_jobs(services) == ["alarm:guest/tick"]
    records = fires(services, at_least=2)
    assert all(rec["response"]["result"] == {"n": 1} for rec in records)

    services.activations.flush()
    stored = client.get(f"{API}/activations/{r.json['activationId']}", headers=guest)
    assert stored.status_code == 200 and stored.json["response"]["success"] is True

    read = feed(client, guest, "interval", "READ").json["response"]["result"]
    assert read["config"] == {
        "name": "tick",
        "namespace": "guest",
        "seconds": 1,
        "trigger_payload": {"n": 1},
    }
    assert read["status"]["active"] is True
    paused = feed(client, guest, "interval", "PAUSE").json["response"]["result"]
    assert paused["status"] == {"active": False, "nextFire": None}
    assert (
        feed(client, guest, "interval", "UNPAUSE").json["response"]["result"]["status"]["active"]
        is True
    )
    updated = feed(client, guest, "interval", "UPDATE", trigger_payload={"n": 2}).json["response"][
        "result"
    ]
    assert updated["config"]["seconds"] == 1 and updated["config"]["trigger_payload"] == {"n": 2}

    r = feed(client, guest, "interval", "DELETE")
    assert r.status_code == 200 and r.json["statusCode"] == 0
    assert stored_jobs(services) == []
    again = feed(client, guest, "interval", "DELETE")
    assert again.status_code == 502 and "has no alarm" in again.json["response"]["result"]["error"]


def test_bad_cron_is_an_application_error_and_registers_nothing(controller, guest):
    client, services = controller
    wsk_trigger(client, guest, "alarm")
    r = feed(client, guest, "alarm", "CREATE", cron="99 * * * *")
    assert r.status_code == 502
    assert r.json["statusCode"] == 1 and r.json["response"]["status"] == "application error"
    assert "schedule is not valid" in r.json["response"]["result"]["error"]
    r = feed(client, guest, "alarm", "CREATE", cron="every day")
    assert "cron expression of 5 fields" in r.json["response"]["result"]["error"]
    assert stored_jobs(services) == []


def test_create_needs_the_trigger(controller, guest):
    client, services = controller
    r = feed(client, guest, "once", "CREATE", trigger="/_/nosuch", date="2030-01-01T00:00:00Z")
    assert (
        r.status_code == 502
        and "'/guest/nosuch' does not exist" in r.json["response"]["result"]["error"]
    )
    assert stored_jobs(services) == []


def test_auth_key_must_be_valid_and_own_the_trigger_namespace(controller, guest):
    client, services = controller
    wsk_trigger(client, guest)
    uid = GUEST_KEY.split(":")[0]
    r = feed(client, guest, "interval", "CREATE", key=f"{uid}:wrong", minutes=1)
    assert r.status_code == 502 and "not a valid API key" in r.json["response"]["result"]["error"]
    other = services.subjects.create("other")
    r = feed(
        client, guest, "interval", "CREATE", trigger="/guest/tick", key=other.api_key, minutes=1
    )
    assert "does not own the namespace 'guest'" in r.json["response"]["result"]["error"]
    assert stored_jobs(services) == []
    # the other namespace's own "_" is its own namespace, where no such trigger exists
    r = feed(client, guest, "interval", "CREATE", key=other.api_key, minutes=1)
    assert "'/other/tick' does not exist" in r.json["response"]["result"]["error"]


def test_tango_one_step_feed_trigger_is_readable_through_the_feed_action(controller, guest):
    client, services = controller
    r = client.put(
        f"{API}/triggers/tick",
        headers=guest,
        json={
            "annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}],
            "parameters": [
                {"key": "cron", "value": "0 9 * * 1"},
                {"key": "colour", "value": "red"},
            ],
        },
    )
    assert r.status_code == 200 and r.json["parameters"] == [{"key": "colour", "value": "red"}]
    read = feed(client, guest, "alarm", "READ").json["response"]["result"]
    assert read["config"]["cron"] == "0 9 * * 1" and "colour" not in read["config"]
    assert client.delete(f"{API}/triggers/tick", headers=guest).status_code == 200
    assert stored_jobs(services) == []


def test_another_namespace_may_invoke_only_published_package_actions(controller, guest):
    client, services = controller
    owner = basic(services.subjects.create("owner").api_key)
    foreign = "/api/v1/namespaces/owner"
    assert client.put(f"{foreign}/packages/tools", json={}, headers=owner).status_code == 200
    assert client.put(f"{foreign}/actions/tools/echo", json=CODE, headers=owner).status_code == 200
    assert (
        client.post(
            f"{foreign}/actions/tools/echo?blocking=true", json={}, headers=guest
        ).status_code
        == 403
    )
    assert (
        client.put(
            f"{foreign}/packages/tools?overwrite=true", json={"publish": True}, headers=owner
        ).status_code
        == 200
    )
    r = client.post(
        f"{foreign}/actions/tools/echo?blocking=true&result=true", json={"x": 1}, headers=guest
    )
    assert r.status_code == 200 and r.json == {"x": 1}
    # The activation is the caller's (OpenWhisk): listed and readable under guest, not under owner.
    aid = r.headers["x-openwhisk-activation-id"]
    mine = client.get(f"{API}/activations/{aid}", headers=guest)
    assert mine.status_code == 200 and mine.json["namespace"] == "guest"
    assert mine.json["annotations"][0] == {"key": "path", "value": "owner/tools/echo"}
    assert aid not in [
        a["activationId"] for a in client.get(f"{foreign}/activations", headers=owner).json
    ]
    assert client.get(f"{foreign}/actions/tools/echo", headers=guest).status_code == 200
