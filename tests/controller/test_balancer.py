"""The load balancer as pure logic: home invoker by action hash, stepping to others when the
home is full, unhealthy or down, overload fallback, and the registry's health states."""

from __future__ import annotations

import time

from controller.balancer import DOWN, UNHEALTHY, UP, InvokerRegistry, InvokerState, choose_invoker


def invokers(n: int, memory: int = 1024) -> list[InvokerState]:
    return [
        InvokerState(
            id=f"invoker{i}",
            url=f"http://127.0.0.1:{3000 + i}",
            user_memory=memory,
            cpus=2.0,
            last_seen=time.monotonic(),
        )
        for i in range(n)
    ]


def test_same_action_goes_home_and_actions_spread():
    invs = invokers(4)
    homes = {choose_invoker(invs, f"guest/a{k}", 256).id for k in range(40)}
    assert len(homes) == 4
    assert {choose_invoker(invs, "guest/hello", 256).id for _ in range(5)} == {
        choose_invoker(invs, "guest/hello", 256).id
    }


def test_steps_to_another_invoker_when_home_is_full_unhealthy_or_down():
    invs = invokers(3)
    home = choose_invoker(invs, "guest/hello", 256)
    home.reserved_memory = home.user_memory  # full
    full_next = choose_invoker(invs, "guest/hello", 256)
    assert full_next is not home
    home.reserved_memory = 0
    for state in (UNHEALTHY, DOWN):
        home.state = state
        other = choose_invoker(invs, "guest/hello", 256)
        assert other is not home and other.state == UP
    home.state = UP
    assert choose_invoker(invs, "guest/hello", 256) is home


def test_all_full_falls_back_to_least_loaded_healthy_and_none_without_healthy():
    invs = invokers(3)
    for inv, reserved in zip(invs, (1024, 768, 1024), strict=True):
        inv.reserved_memory = reserved
    assert choose_invoker(invs, "guest/big", 512).id == "invoker1"
    invs[1].state = DOWN
    assert choose_invoker(invs, "guest/big", 512).state == UP
    for inv in invs:
        inv.state = DOWN
    assert choose_invoker(invs, "guest/big", 512) is None


def test_registry_reserves_and_releases_memory_across_invokers():
    reg = InvokerRegistry()
    reg.register("invoker0", "http://127.0.0.1:3001", 512, 2.0)
    reg.register("invoker1", "http://127.0.0.1:3002", 512, 2.0)
    taken = [reg.reserve("guest/hello", 256) for _ in range(4)]
    assert sorted(i.id for i in taken) == ["invoker0", "invoker0", "invoker1", "invoker1"]
    assert all(i.free_memory == 0 for i in reg.all())
    for inv in taken:
        reg.release(inv, 256)
    assert all(i.free_memory == 512 and i.in_flight == 0 for i in reg.all())


def test_health_states_up_down_unhealthy_and_recovery():
    reg = InvokerRegistry(down_after_s=0.05)
    inv = reg.register("invoker0", "http://127.0.0.1:3001", 512, 2.0)
    for error in (True, False, True, True):
        reg.record_outcome(inv, error)
    assert inv.state == UNHEALTHY
    assert reg.reserve("guest/x", 128) is None  # no user work reaches it
    time.sleep(0.06)
    reg.heartbeat("invoker0", {})
    reg.check_health()  # probation: back up, errors forgotten
    assert inv.state == UP and inv.recent_errors == []
    time.sleep(0.06)
    assert reg.check_health() == [inv] and inv.state == DOWN
    reg.heartbeat("invoker0", {})
    assert inv.state == UP
    reg.mark_down("invoker0")
    assert inv.state == DOWN


def test_a_success_dispatched_before_the_errors_does_not_clear_unhealthy():
    reg = InvokerRegistry(down_after_s=10)
    inv = reg.register("invoker0", "http://127.0.0.1:3001", 512, 2.0)
    before = time.monotonic()
    for _ in range(3):  # the invoker dies: its in-flight calls break
        reg.record_outcome(inv, True, time.monotonic())
    assert inv.state == UNHEALTHY
    reg.record_outcome(inv, False, before)  # finished before the breaks, recorded after them
    assert inv.state == UNHEALTHY
    reg.record_outcome(inv, False, time.monotonic())  # dispatched while unhealthy and succeeded
    assert inv.state == UP and inv.recent_errors == []


def test_a_heartbeat_sent_before_the_invoker_was_marked_down_does_not_revive_it():
    reg = InvokerRegistry(down_after_s=10)
    inv = reg.register("invoker0", "http://127.0.0.1:3001", 512, 2.0)
    sent_before = time.time()
    reg.mark_down("invoker0")  # its connection was refused: the process is gone
    assert reg.heartbeat("invoker0", {}, sent_before) is True
    assert inv.state == DOWN  # in flight (or stored) when it died: stale
    assert (
        reg.heartbeat("invoker0", {}, time.time() + 0.001) and inv.state == UP
    )  # a live one revives it
