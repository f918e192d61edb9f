"""The VLM runtime image (`tango/action-vlm:cpu`, kind `vlm`) in a real container: /init with the
tiny preset, concurrent /run calls batched by the scheduler, /metrics, and the log sentinel on
both of the container's streams. Host networking, a port of its own on 127.0.0.1."""

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.runtimes.vlm.test_server import TINY, call, png_b64

REPO = Path(__file__).resolve().parents[3]
IMAGE = "tango/action-vlm:cpu"
SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"


@pytest.fixture(scope="module")
def vlm_image(docker_client):
    result = subprocess.run(
        [str(REPO / "docker" / "build-images.sh"), "vlm"], capture_output=True, text=True
    )
    assert result.returncode == 0, (
        f"build-images.sh vlm failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    )
    return IMAGE


@pytest.fixture
def container_port(docker_client, vlm_image):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = docker_client.containers.run(
        vlm_image,
        detach=True,
        network_mode="host",
        environment={"__OW_PROXY_HOST": "127.0.0.1", "__OW_PROXY_PORT": str(port)},
        labels={"tango.test": "runtimes-vlm"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call(port, "GET", "/metrics")
                break
            except OSError:
                c.reload()
                assert c.status in ("created", "running"), c.logs().decode()[-2000:]
                assert time.monotonic() < deadline, "the VLM runtime did not listen within 60 s"
                time.sleep(0.1)
        yield port, c
    finally:
        c.remove(force=True)


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_vlm_image_serves_concurrent_batched_runs(container_port):
    port, container = container_port
    assert call(port, "POST", "/init", {"value": {"main": json.dumps(TINY)}}) == (200, {"ok": True})
    results = [None] * 4

    def run(i):
        results[i] = call(
            port,
            "POST",
            "/run",
            {"value": {"image": png_b64(i), "prompt": f"tap {i}", "max_tokens": 60}},
        )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(status == 200 and body["token_ids"] for status, body in results), results
    status, metrics = call(port, "GET", "/metrics")
    assert metrics["counts"]["completed"] == 4 and metrics["decode_batch"]["max"] > 1
    logs_out = container.logs(stdout=True, stderr=False).decode()
    logs_err = container.logs(stdout=False, stderr=True).decode()
    assert logs_out.count(SENTINEL) == 4 and logs_err.count(SENTINEL) == 4
