"""Several controllers on one PostgreSQL store: an invoker that reports to one controller
serves invokes that arrive at the other; entities and activations are shared."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from common.platform_process import GUEST_KEY, REPO, free_port
from tests.conftest import docker_available, require

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.slow]
AUTH = tuple(GUEST_KEY.split(":"))


@pytest.fixture
def pg_url():
    base = os.environ.get("TANGO_TEST_PG_URL")
    require(base is not None, "PostgreSQL (TANGO_TEST_PG_URL)")
    name = f"tango_mn_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _wait(url: str, check, timeout: float = 60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check(requests.get(url, timeout=1)):
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready in {timeout} s")


def test_two_controllers_share_one_postgresql_store(pg_url, tmp_path):
    require(docker_available(), "a running Docker engine")
    token = uuid.uuid4().hex
    pa, pb, pi = free_port(), free_port(), free_port()
    env = {**os.environ, "TANGO_INTERNAL_TOKEN": token}
    procs = []
    # `tango controller` installs no development key: the operator creates the namespace
    subprocess.run(
        [sys.executable, "-m", "cli", "admin", "--db-url", pg_url, "user", "create", "guest"]
        + ["-u", GUEST_KEY],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        for port in (pa, pb):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "cli",
                        "controller",
                        "--port",
                        str(port),
                        "--db-url",
                        pg_url,
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=open(tmp_path / f"c{port}.log", "w"),
                    stderr=subprocess.STDOUT,
                )
            )
            _wait(f"http://127.0.0.1:{port}/ping", lambda r: r.status_code == 200)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "invoker",
                    "--id",
                    "mn0",
                    "--port",
                    str(pi),
                    "--controller",
                    f"http://127.0.0.1:{pa}",
                    "--token",
                    token,
                    "--container-ports",
                    "15000-15099",
                ],
                cwd=REPO,
                env=env,
                stdout=open(tmp_path / "inv.log", "w"),
                stderr=subprocess.STDOUT,
            )
        )
        for port in (pa, pb):  # B learns the invoker from the store
            _wait(f"http://127.0.0.1:{port}/invokers", lambda r: r.json() == {"mn0": "up"})
        a, b = (
            f"http://127.0.0.1:{pa}/api/v1/namespaces/_",
            f"http://127.0.0.1:{pb}/api/v1/namespaces/_",
        )
        r = requests.put(
            f"{b}/actions/shared",
            auth=AUTH,
            json={
                "exec": {
                    "kind": "python:3.11",
                    "code": "def main(a):\n    return {'hi': a.get('n')}\n",
                }
            },
        )
        assert r.status_code == 200
        ra = requests.post(
            f"{a}/actions/shared?blocking=true&result=true", json={"n": 1}, auth=AUTH, timeout=60
        )
        rb = requests.post(
            f"{b}/actions/shared?blocking=true", json={"n": 2}, auth=AUTH, timeout=60
        )
        assert ra.json() == {"hi": 1} and rb.json()["response"]["result"] == {"hi": 2}
        aid = rb.json()["activationId"]
        assert requests.get(f"{a}/activations/{aid}", auth=AUTH).json()["activationId"] == aid
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
