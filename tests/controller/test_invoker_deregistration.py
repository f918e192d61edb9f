"""An invoker stopping cleanly leaves (``DELETE /internal/invokers/<id>``, internal token):
the controller routes nothing more to it, forgets it in the shared store (so no controller
learns it again from its row) and an activation already placed there still releases its
reservation when it ends."""

from __future__ import annotations

from controller.app import sync_invokers
from controller.balancer import InvokerRegistry


def test_a_deregistered_invoker_is_forgotten_here_and_in_the_store(platform):
    client, services, _ = platform
    token = {"X-Tango-Internal": services.config.internal_token}
    body = {"id": "leaving", "url": "http://127.0.0.1:9", "userMemory": 512, "cpus": 1}
    assert client.post("/internal/invokers", json=body, headers=token).status_code == 200
    beat = {"pool": {}, "sent": 0}
    client.post("/internal/invokers/leaving/heartbeat", json=beat, headers=token)
    assert "leaving" in client.get("/invokers").json

    assert client.delete("/internal/invokers/leaving").status_code == 401  # token needed
    r = client.delete("/internal/invokers/leaving", headers=token)
    assert r.status_code == 200 and r.json == {"id": "leaving", "removed": True}
    assert "leaving" not in client.get("/invokers").json
    assert "leaving" not in {row.id for row in services.invoker_store.all()}
    # another controller of the same store does not learn it from a recent row
    other = InvokerRegistry()
    sync_invokers(other, services.invoker_store, {})
    assert other.get("leaving") is None
    # a heartbeat after leaving is refused (the invoker would have to register again)
    assert (
        client.post("/internal/invokers/leaving/heartbeat", json=beat, headers=token).status_code
        == 404
    )
    r = client.delete("/internal/invokers/leaving", headers=token)  # idempotent
    assert r.status_code == 200 and r.json["removed"] is False


def test_an_activation_placed_before_deregistration_still_releases():
    registry = InvokerRegistry()
    registry.register("a", "http://127.0.0.1:9", 512, 1.0)
    registry.register("b", "http://127.0.0.1:10", 512, 1.0)
    placed = registry.reserve("guest/x", 256, exclude={"b"})
    assert placed is not None and placed.id == "a"
    assert registry.deregister("a") is placed
    assert [i.id for i in registry.all()] == ["b"]
    again = registry.reserve("guest/x", 256)
    assert again is not None and again.id == "b"  # nothing is routed to the one that left
    registry.release(placed, 256)
    assert placed.reserved_memory == 0 and placed.in_flight == 0
