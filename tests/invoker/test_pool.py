"""Pure tests of the container pool policy (no Docker)."""

from invoker.pool import (
    BUSY,
    PAUSED,
    PREWARM,
    REMOVING,
    WARM,
    ActionKey,
    Buffered,
    ContainerPool,
    Placement,
    PoolConfig,
    PrewarmSpec,
    Rejected,
    RunRequest,
)

KEY_A = ActionKey("guest", "guest/a", "0.0.1", "h1")
KEY_B = ActionKey("guest", "guest/b", "0.0.1", "h2")


def pool(memory=1024, cpus=2.0, prewarm=(), pause_grace=2.0, idle_timeout=600.0, head_grace=2.0):
    return ContainerPool(
        PoolConfig(
            user_memory=memory,
            cpus=cpus,
            pause_grace=pause_grace,
            idle_timeout=idle_timeout,
            prewarm=tuple(prewarm),
            head_grace=head_grace,
        )
    )


def req(key=KEY_A, memory=256, cpu=0.5, kind="python:3.11", concurrency=1, action_memory=256):
    return RunRequest(key, kind, memory, cpu, action_memory, concurrency)


def run_to_idle(p, key=KEY_A, now=0.0, **kw):
    """Cold-start one activation of `key` and release it; returns the container id."""
    placement = p.submit(req(key, **kw), now)
    p.started(placement.cid)
    p.release(placement.cid, now)
    return placement.cid


def test_cold_then_warm_reuse_of_same_action():
    p = pool()
    first = p.submit(req(), 0.0)
    assert isinstance(first, Placement) and first.start_kind == "cold" and first.create
    p.started(first.cid)
    p.release(first.cid, 1.0)
    assert p.containers[first.cid].state == WARM
    second = p.submit(req(), 2.0)
    assert second.start_kind == "warm" and second.cid == first.cid and not second.create
    assert p.containers[first.cid].state == BUSY


def test_new_version_never_reuses_old_container():
    p = pool()
    old = run_to_idle(p)
    newer = ActionKey("guest", "guest/a", "0.0.2", "h1b")
    placement = p.submit(req(newer), 1.0)
    assert placement.start_kind == "cold" and placement.cid != old


def test_paused_container_is_resumed_but_running_preferred():
    p = pool()
    a1 = run_to_idle(p, now=0.0)
    plan = p.reap(5.0)
    assert plan.pause == (a1,) and p.containers[a1].state == PAUSED
    resumed = p.submit(req(), 6.0)
    assert resumed.cid == a1 and resumed.resume and resumed.start_kind == "warm"
    # with one running idle and one paused, the running one wins
    p2 = pool()
    x = run_to_idle(p2, now=0.0)
    p2.reap(5.0)
    y = p2.submit(req(), 6.0).cid  # resumes x
    z = p2.submit(req(), 6.0).cid  # x busy -> cold z
    p2.release(y, 7.0)
    p2.started(z)
    p2.release(z, 8.0)
    p2.reap(9.5)  # x idle 2.5 s -> paused; z idle 1.5 s stays warm
    assert p2.containers[x].state == PAUSED and p2.containers[z].state == WARM
    assert p2.submit(req(), 9.6).cid == z


def test_prewarm_hit_matches_kind_and_memory():
    p = pool(prewarm=[PrewarmSpec("python:3.11", 256, 1)])
    [start] = p.prewarm_plan()
    assert (start.kind, start.memory) == ("python:3.11", 256)
    assert p.prewarm_plan() == []  # count already met (starting)
    p.started(start.cid)
    assert p.containers[start.cid].state == PREWARM
    other_kind = p.submit(req(KEY_B, kind="blackbox"), 0.0)
    assert other_kind.start_kind == "cold"
    hit = p.submit(req(memory=512, cpu=1.0), 0.0)  # resized in place from 256 MB
    assert hit.start_kind == "prewarmed" and hit.cid == start.cid
    assert (p.containers[hit.cid].memory, p.containers[hit.cid].key) == (512, KEY_A)
    assert len(p.prewarm_plan()) == 1  # replenish


def test_lru_eviction_by_memory():
    p = pool(memory=768, cpus=8)
    a = run_to_idle(p, KEY_A, now=1.0)
    b = run_to_idle(p, KEY_B, now=2.0)
    key_c = ActionKey("guest", "guest/c", "0.0.1", "h3")
    c = run_to_idle(p, key_c, now=3.0)
    key_d = ActionKey("guest", "guest/d", "0.0.1", "h4")
    placement = p.submit(req(key_d, memory=512), 4.0)
    assert placement.start_kind == "recreated"
    assert placement.evict == (a, b)  # least recently used first
    assert p.containers[a].state == REMOVING and p.containers[c].state == WARM


def test_idle_containers_hold_no_cpu_but_running_work_does():
    p = pool(memory=4096, cpus=2.0)
    a = run_to_idle(p, KEY_A, now=1.0, cpu=1.0)
    b = run_to_idle(p, KEY_B, now=2.0, cpu=1.0)
    key_c = ActionKey("guest", "guest/c", "0.0.1", "h3")
    placement = p.submit(req(key_c, cpu=2.0), 3.0)  # the idle 1-core quotas are only ceilings
    assert placement.start_kind == "cold" and placement.evict == ()
    assert {p.containers[a].state, p.containers[b].state} == {WARM}
    assert p.free_cpu() == 0.0
    waiting = p.submit(req(KEY_A, cpu=1.0), 4.0)  # CPU held by running work: wait, evict nothing
    assert isinstance(waiting, Buffered)
    p.started(placement.cid)
    p.release(placement.cid, 5.0)
    assert [x.cid for x in p.drain(5.0)] == [a]


def test_warm_container_is_resized_for_its_next_activation():
    p = pool(memory=4096, cpus=2.0)
    a = run_to_idle(p, KEY_A, now=1.0, cpu=0.5)
    run_to_idle(p, KEY_B, now=2.0, cpu=1.0)
    placement = p.submit(req(KEY_A, cpu=1.5), 3.0)
    assert placement.cid == a and placement.start_kind == "warm" and placement.evict == ()
    assert p.containers[a].cpu == 1.5 and p.free_cpu() == 0.5


def test_busy_containers_are_never_evicted_and_buffer_is_fifo():
    p = pool(memory=512, cpus=8, head_grace=0.0)  # strict FIFO from the start
    first = p.submit(req(KEY_A), 0.0)
    second = p.submit(req(KEY_B), 0.0)
    big = p.submit(req(ActionKey("g", "g/big", "1", "x"), memory=512), 0.0)
    small = p.submit(req(KEY_A), 0.0)  # would fit nowhere anyway, but FIFO
    assert isinstance(big, Buffered) and big.position == 0
    assert isinstance(small, Buffered) and small.position == 1
    for placement in (first, second):
        p.started(placement.cid)
    p.release(first.cid, 1.0)
    assert p.drain(1.0) == []  # big needs both containers
    p.release(second.cid, 2.0)
    placed = p.drain(2.0)
    assert [x.request for x in placed] == [big.request]
    assert set(placed[0].evict) == {first.cid, second.cid}
    p.started(placed[0].cid)
    p.release(placed[0].cid, 3.0)
    assert [x.request for x in p.drain(3.0)] == [small.request]


def test_request_larger_than_invoker_is_rejected():
    p = pool(memory=512, cpus=1.0)
    assert isinstance(p.submit(req(memory=1024), 0.0), Rejected)
    assert isinstance(p.submit(req(cpu=2.0), 0.0), Rejected)
    assert not p.buffer


def test_reap_pauses_after_grace_and_removes_after_idle_timeout():
    p = pool(pause_grace=2.0, idle_timeout=10.0)
    a = run_to_idle(p, now=0.0)
    assert p.reap(1.0).pause == ()
    assert p.reap(2.0).pause == (a,)
    assert p.reap(3.0).pause == ()  # already paused
    assert p.reap(10.0).remove == (a,)
    p.removed(a)
    assert a not in p.containers


def test_gpu_kinds_are_never_paused_but_still_removed_when_idle():
    p = ContainerPool(
        PoolConfig(
            user_memory=1024,
            cpus=2.0,
            pause_grace=2.0,
            idle_timeout=10.0,
            prewarm=(),
            no_pause_kinds=frozenset({"vlm"}),
        )
    )
    gpu = run_to_idle(p, KEY_A, now=0.0, kind="vlm")
    cpu = run_to_idle(p, KEY_B, now=0.0)
    assert p.reap(5.0).pause == (cpu,)
    assert p.reap(10.0).remove == (gpu, cpu)


def test_pausing_can_be_disabled():
    p = pool(pause_grace=None, idle_timeout=10.0)
    run_to_idle(p, now=0.0)
    assert p.reap(9.0).pause == ()


def test_concurrency_shares_one_container_of_same_size():
    p = pool()
    one = p.submit(req(concurrency=2), 0.0)
    p.started(one.cid)
    two = p.submit(req(concurrency=2), 0.0)
    assert two.cid == one.cid and p.containers[one.cid].active == 2
    three = p.submit(req(concurrency=2), 0.0)
    assert three.cid != one.cid  # container full
    other_size = p.submit(req(concurrency=2, cpu=1.0), 0.0)
    assert other_size.cid not in (one.cid, three.cid)  # busy container keeps its size


def test_failed_container_is_not_reused():
    p = pool()
    placement = p.submit(req(), 0.0)
    p.started(placement.cid)
    p.release(placement.cid, 1.0, reusable=False)
    assert p.containers[placement.cid].state == REMOVING
    assert p.submit(req(), 2.0).cid != placement.cid


def test_prewarm_waits_for_buffer_and_capacity():
    p = pool(memory=256, prewarm=[PrewarmSpec("python:3.11", 256, 2)])
    busy = p.submit(req(KEY_B, kind="blackbox"), 0.0)
    assert p.prewarm_plan() == []  # no memory left
    p.submit(req(KEY_A), 0.0)  # buffered
    p.started(busy.cid)
    p.release(busy.cid, 1.0, reusable=False)
    p.removed(busy.cid)
    assert p.prewarm_plan() == []  # buffered request comes first


def test_released_container_serves_its_own_queue_instead_of_being_evicted():
    """Two actions, one slot each, more requests than slots: a released container takes the
    next request of its own action (warm), it is not evicted for the other action."""
    p = pool(memory=512, cpus=8)
    a = p.submit(req(KEY_A), 0.0)
    b = p.submit(req(KEY_B), 0.0)
    p.started(a.cid)
    p.started(b.cid)
    queued = [p.submit(req(KEY_A if i % 2 else KEY_B), 0.1) for i in range(4)]
    assert all(isinstance(q, Buffered) for q in queued)
    p.release(a.cid, 0.2)
    placed = p.drain(0.2)
    assert [x.start_kind for x in placed] == ["warm"] and placed[0].cid == a.cid
    assert placed[0].request is queued[1].request and placed[0].evict == ()


def test_head_of_buffer_is_not_starved_past_the_grace():
    p = pool(memory=512, cpus=8, head_grace=1.0)
    a = p.submit(req(KEY_A), 0.0)
    b = p.submit(req(KEY_B), 0.0)
    p.started(a.cid)
    p.started(b.cid)
    big = p.submit(req(ActionKey("g", "g/big", "1", "x"), memory=512), 0.0)
    more_a = p.submit(req(KEY_A), 0.0)
    p.release(a.cid, 0.5)
    assert [x.request for x in p.drain(0.5)] == [more_a.request]  # within grace: warm hit passes
    p.release(a.cid, 2.0)
    p.release(b.cid, 2.0)
    late_a = p.submit(req(KEY_A), 2.0)
    assert isinstance(late_a, Buffered)  # past grace: strict FIFO
    placed = p.drain(2.0)
    assert [x.request for x in placed] == [big.request]


def test_a_request_waits_for_its_own_busy_container_rather_than_evict_another():
    p = pool(memory=512, cpus=8)
    a = p.submit(req(KEY_A), 0.0)
    p.started(a.cid)
    b = run_to_idle(p, KEY_B, now=0.5)
    again = p.submit(req(KEY_A), 1.0)  # memory is full; b is idle, a is busy
    assert isinstance(again, Buffered) and p.containers[b].state == WARM
    p.release(a.cid, 1.1)
    placed = p.drain(1.1)
    assert [(x.cid, x.start_kind, x.evict) for x in placed] == [(a.cid, "warm", ())]


def test_after_the_grace_a_waiting_request_evicts_instead_of_waiting_longer():
    p = pool(memory=512, cpus=8, head_grace=1.0)
    a = p.submit(req(KEY_A), 0.0)
    p.started(a.cid)  # a stays busy (a long activation)
    b = run_to_idle(p, KEY_B, now=0.1)
    waiting = p.submit(req(KEY_A), 0.2)
    assert isinstance(waiting, Buffered)
    assert p.drain(0.5) == []  # within the grace: keep waiting for a's container
    placed = p.drain(1.5)  # the invoker drains periodically, not only on release
    assert [(x.start_kind, x.evict) for x in placed] == [("recreated", (b,))]
