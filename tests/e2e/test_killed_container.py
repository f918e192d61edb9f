"""An idle action container killed outside the invoker (``docker kill``, the OOM killer of the
host, a crashed runtime): the next invoke of the action answers as if nothing happened, from a
fresh container, because the request never reached the dead one (issue 15, item 7)."""

from __future__ import annotations

import time

import pytest

import docker
from controller.config import SYSTEM_KEY

pytestmark = pytest.mark.docker


def action_containers(p, path: str) -> list[dict]:
    invokers = p.api("GET", "/api/v1/admin/invokers", auth=SYSTEM_KEY).json()
    return [c for inv in invokers for c in inv["containers"] if c["action"] == path]


@pytest.mark.parametrize("idle", ["paused", "warm"])
def test_next_invoke_after_a_docker_kill_uses_a_fresh_container(platform, tmp_path, idle):
    p = platform.in_new_namespace("killed")
    (tmp_path / "echo.py").write_text("def main(a):\n    return {'n': a.get('n')}\n")
    p.tango("action", "create", "echo", str(tmp_path / "echo.py"))
    first = p.tango_json("action", "invoke", "echo", "-p", "n", "1", "--result")
    assert first == {"n": 1}
    namespace = p.api("GET", "/api/v1/namespaces").json()[0]
    path = f"{namespace}/echo"
    if idle == "paused":  # idle long enough for the invoker to pause it
        deadline = time.time() + 30
        while [c["state"] for c in action_containers(p, path)] != ["paused"]:
            assert time.time() < deadline, action_containers(p, path)
            time.sleep(0.3)
    (container,) = action_containers(p, path)
    docker.from_env().containers.get(container["name"]).kill()

    r = p.api("POST", "/api/v1/namespaces/_/actions/echo?blocking=true", json={"n": 2})
    assert r.status_code == 200, r.text
    assert r.json()["response"]["result"] == {"n": 2}
    assert [c["name"] for c in action_containers(p, path)] != [container["name"]]
