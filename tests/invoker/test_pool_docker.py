"""Pool decisions carried out on real containers: pausing idle containers and the FIFO buffer.

Drives `Invoker.invoke` directly (the HTTP layer is covered by test_service_docker.py) on a
deliberately small invoker: 256 MB for all containers, pause after 0.5 s idle.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.invoker.test_service_docker import message

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def small_invoker(runtime_image):
    from invoker.config import InvokerConfig
    from invoker.service import Invoker

    inv = Invoker(
        InvokerConfig(
            id="pool" + uuid.uuid4().hex[:6],
            user_memory=256,
            cpus=2.0,
            prewarm=(),
            pause_grace=0.5,
            container_ports=(13310, 13329),
        )
    )
    inv.start()
    yield inv
    inv.stop()


def notes(record):
    return {a["key"]: a["value"] for a in record["annotations"]}


def test_idle_container_is_paused_then_resumed_on_next_run(small_invoker, docker_client):
    msg = message("def main(args):\n    return {'ok': True}\n", memory=256)
    assert small_invoker.invoke(msg)["statusCode"] == 0
    [cid] = [
        c.cid
        for c in small_invoker.pool.containers.values()
        if c.key and c.key.path == msg["action"]["path"]
    ]
    container = docker_client.containers.get(small_invoker.proxies[cid].handle.id)
    deadline = time.time() + 10
    while container.status != "paused":
        assert time.time() < deadline, "idle container was not paused"
        time.sleep(0.2)
        container.reload()
    record = small_invoker.invoke({**msg, "activationId": uuid.uuid4().hex})
    assert record["statusCode"] == 0 and notes(record)["startKind"] == "warm"
    container.reload()
    assert container.status == "running"


def test_request_without_capacity_waits_in_buffer_and_runs_after(small_invoker):
    code = "import time\ndef main(args):\n    time.sleep(0.5)\n    return {'n': args['n']}\n"
    first = message(code, memory=256, params={"n": 1})
    # a different action of the same memory: it can only run once the first is done
    second = message(code, memory=256, params={"n": 2})
    records = {}

    def run(msg):
        records[msg["params"]["n"]] = small_invoker.invoke(msg)

    t1 = threading.Thread(target=run, args=(first,))
    t1.start()
    deadline = time.time() + 30
    while not any(
        c.state == "busy" or c.state == "starting" for c in small_invoker.pool.containers.values()
    ):
        assert time.time() < deadline
        time.sleep(0.01)
    t2 = threading.Thread(target=run, args=(second,))
    t2.start()
    t1.join(60)
    t2.join(60)
    assert records[1]["response"]["result"] == {"n": 1}
    assert records[2]["response"]["result"] == {"n": 2}
    assert notes(records[2])["startKind"] == "recreated"  # evicted the first, idle by then
    assert records[2]["start"] >= records[1]["end"]
