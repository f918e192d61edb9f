"""Group commit keeps the never-lost guarantee (issue 21): a blocking invoke is answered only once
its running row (or its final record) is committed, so SIGKILL of ``tango standalone`` in the
middle of a stream of blocking invokes on several connections leaves every activation id that
reached a caller in the store at once, and with its real result after a restart."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bench import procs
from common import platform_process
from common.platform_process import GUEST_KEY
from tests.conftest import docker_available, require
from tests.e2e.test_controller_failover import final_results

pytestmark = [pytest.mark.docker, pytest.mark.slow]
AUTH = tuple(GUEST_KEY.split(":"))
NOOP = "def main(args):\n    return {'n': args.get('n')}\n"


def test_sigkill_during_blocking_invokes_leaves_every_answered_id_stored(tmp_path):
    require(docker_available(), "a running Docker engine")
    platform_process.build_images()
    p = platform_process.start(tmp_path)
    invokers: list[int] = []
    try:
        platform_process.lift_throttles(p)
        url = f"{p.apihost}/api/v1/namespaces/_/actions/gc"
        r = requests.put(
            url + "?overwrite=true", auth=AUTH, json={"exec": {"kind": "python:3.11", "code": NOOP}}
        )
        assert r.status_code == 200, r.text
        assert requests.post(url + "?blocking=true", auth=AUTH, json={}).status_code == 200

        answered: dict[str, int] = {}  # activation id → the parameter its caller sent
        lock = threading.Lock()

        def caller(k: int) -> None:
            session = requests.Session()
            n = 0
            while True:
                n += 1
                try:
                    resp = session.post(
                        url + "?blocking=true", auth=AUTH, json={"n": k * 100_000 + n}, timeout=30
                    )
                except requests.RequestException:
                    return  # the controller is gone
                if resp.status_code == 200:
                    with lock:
                        answered[resp.json()["activationId"]] = k * 100_000 + n

        threads = [threading.Thread(target=caller, args=(k,), daemon=True) for k in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(answered) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        invokers = list(procs.invoker_children(p.proc.pid).values())
        os.kill(p.proc.pid, signal.SIGKILL)  # the controller process; its invokers run on
        p.proc.wait(30)
        for t in threads:
            t.join(60)
        assert len(answered) >= 150

        db = sa.create_engine(f"sqlite:///{p.data_dir / 'tango.db'}")
        try:
            with db.connect() as c:
                rows = c.execute(sa.text("SELECT activation_id, state, doc FROM activations"))
                stored = {aid: (state, doc) for aid, state, doc in rows}
        finally:
            db.dispose()
        missing = [aid for aid in answered if aid not in stored]
        assert missing == []  # every id a caller saw has a row, before anything else ran
        for aid, n in answered.items():
            state, doc = stored[aid]
            doc = json.loads(doc) if isinstance(doc, str) else doc
            assert state == "running" or doc["response"]["result"] == {"n": n}
        # Started again on the same store and port: reconciliation finishes the rows still
        # running from the invokers' results.
        restarted = platform_process.start(tmp_path, port=p.port)
        try:
            finals = final_results(restarted, answered, 60)
        finally:
            restarted.stop()
        assert {aid: r["result"] for aid, r in finals.items()} == {
            aid: {"n": n} for aid, n in answered.items()
        }
    finally:
        p.stop()
        for pid in invokers:  # each in its own session: SIGTERM removes its containers
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in invokers:
            deadline = time.monotonic() + 30
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
