"""Several controllers on one store (issue 15): the pure decisions (what happens to a dead
controller's activation, a limit's share, re-dispatch to another invoker) in milliseconds, and
the store parts they read (live controllers, orphans, claims) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from controller.balancer import InvokerRegistry
from controller.errors import ApiError
from controller.invoke import FAIL, REDISPATCH, SETTLED, STORE, WAIT, orphan_fate
from controller.store.activations import ActivationStore
from controller.store.controllers import ControllerStore
from controller.store.db import Database
from controller.throttle import Throttle, divided

BASE = dict(
    finished=False,
    running=False,
    stored_final=False,
    all_answered=True,
    resendable=True,
    invoker_died_since=False,
)


@pytest.mark.parametrize(
    "change, fate",
    [
        ({"finished": True}, STORE),  # an invoker has its record
        ({"finished": True, "invoker_died_since": True}, STORE),
        ({"running": True}, WAIT),  # still running: its record comes later
        ({"stored_final": True}, SETTLED),  # an outbox delivered it meanwhile
        ({"all_answered": False}, WAIT),  # the silent invoker may have it
        ({}, REDISPATCH),  # nobody has it, nobody died: it never started
        ({"invoker_died_since": True}, FAIL),  # it may have run on the dead one: at most once
        ({"resendable": False}, FAIL),  # a sequence (no message): cannot be sent again
    ],
)
def test_orphan_fate(change, fate):
    assert orphan_fate(**{**BASE, **change}) == fate


def test_limits_are_divided_among_live_controllers():
    assert [divided(10, n) for n in (1, 2, 3, 20)] == [10, 5, 3, 1]
    t = Throttle()
    t.share = 2
    for _ in range(5):
        t.acquire("ns", per_minute=10, concurrent=100)
    with pytest.raises(ApiError) as err:
        t.acquire("ns", per_minute=10, concurrent=100)
    assert err.value.status == 429 and "allowed: 5" in err.value.message


def test_reserve_skips_invokers_that_failed_the_activation():
    reg = InvokerRegistry()
    for i in (0, 1):
        reg.register(f"inv{i}", f"http://127.0.0.1:{40000 + i}", 1024, 2.0)
    first = reg.reserve("guest/a", 256)
    second = reg.reserve("guest/a", 256, exclude={first.id})
    assert second is not None and second.id != first.id
    assert reg.reserve("guest/a", 256, exclude={"inv0", "inv1"}) is None


def test_live_controllers_and_orphan_claims(db_url):
    db = Database(db_url)
    db.migrate()
    controllers, activations = ControllerStore(db), ActivationStore(db)
    try:
        controllers.join("inc-a", "127.0.0.1:1", "http://127.0.0.1:1")
        controllers.join("inc-b", "127.0.0.1:2", "http://127.0.0.1:2")
        assert [c.incarnation for c in controllers.live()] == ["inc-a", "inc-b"]
        controllers.join("inc-a2", "127.0.0.1:1", "http://127.0.0.1:1")  # a restart of A
        assert {c.incarnation for c in controllers.live()} == {"inc-b", "inc-a2"}
        doc = {"activationId": "x" * 32, "response": {"status": "running"}}
        message = {"activationId": "x" * 32, "action": {"path": "guest/a"}}
        activations.accept("guest", "a", "x" * 32, 1, 10**13, doc, controller="inc-a",
                           message=message)  # fmt: skip
        activations.accept("guest", "a", "y" * 32, 1, 10**13, doc, controller="inc-b")
        (orphan,) = activations.orphans({"inc-b", "inc-a2"})
        assert (orphan.activation_id, orphan.message) == ("x" * 32, message)
        # two survivors reconcile at once: exactly one takes it over
        assert activations.claim("x" * 32, "inc-a", "inc-b") is True
        assert activations.claim("x" * 32, "inc-a", "inc-a2") is False
        assert activations.orphans({"inc-b", "inc-a2"}) == []
        activations.complete({**doc, "end": 2, "statusCode": 0}, "guest", "a")
        activations.flush()
        assert activations.state("x" * 32) == "done"
        controllers.leave("inc-b")
        assert [c.incarnation for c in controllers.live()] == ["inc-a2"]
    finally:
        activations.close()
        db.dispose()
