"""The VLM runtime's HTTP protocol on the CPU (tiny preset): /init, concurrent /run batched by the
scheduler, /metrics, the log sentinel, and input errors that say what to fix."""

import base64
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from runtimes.vlm.server import VLMRuntime, VLMServer

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
TINY = {"preset": "tiny", "policy": "nova", "max_batch": 4, "max_len": 1024, "device": "cpu"}


def png_b64(seed=0, size=(96, 64), fmt="PNG"):
    rgb = (np.random.RandomState(seed).rand(size[1], size[0], 3) * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


def call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.fixture
def server():
    runtime = VLMRuntime()
    srv = VLMServer(("127.0.0.1", 0), runtime)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()
    runtime.close()


@pytest.fixture
def ready(server):
    status, body = call(server, "POST", "/init", {"value": {"main": json.dumps(TINY)}})
    assert (status, body) == (200, {"ok": True})
    return server


@pytest.mark.timeout(120)
def test_concurrent_runs_are_batched_and_answer_text_tokens_timings(ready):
    results = [None] * 6

    def run(i):
        results[i] = call(
            ready,
            "POST",
            "/run",
            {
                "value": {
                    "image": png_b64(i, fmt="PNG" if i % 2 else "JPEG"),
                    "prompt": f"open settings {i}",
                    "max_tokens": 80,
                }
            },
        )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for status, body in results:
        assert status == 200, body
        assert isinstance(body["text"], str) and body["token_ids"]
        t = body["timings"]
        assert t["total_ms"] >= t["ttft_ms"] > 0 and t["vision_ms"] is not None
    status, metrics = call(ready, "GET", "/metrics")
    assert status == 200 and metrics["initialized"]
    assert metrics["decode_batch"]["max"] > 1, metrics["decode_batch"]
    assert metrics["counts"]["completed"] == 6
    assert metrics["latency_ms"]["ttft_ms"]["count"] == 6
    assert set(metrics["queues"]) >= {"waiting", "ready", "decoding"}


@pytest.mark.timeout(60)
def test_run_writes_the_sentinel_on_stdout_and_stderr(ready, capfd):
    capfd.readouterr()
    status, body = call(ready, "POST", "/run", {"value": {"prompt": "text only", "max_tokens": 3}})
    assert status == 200 and len(body["token_ids"]) <= 3
    out, err = capfd.readouterr()
    assert SENTINEL in out and SENTINEL in err


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "value, words",
    [
        ({"image": "not base64!!", "prompt": "x"}, ["'image'", "base64"]),
        (
            {"image": base64.b64encode(b"GIF89a not really").decode(), "prompt": "x"},
            ["'image'", "PNG or JPEG"],
        ),
        ({"image": png_b64()}, ["'prompt'", "missing"]),
        ({"prompt": "x", "max_tokens": 0}, ["'max_tokens'", "positive integer"]),
        ({"prompt": "x", "max_tokens": 100000}, ["KV slot", "max_tokens"]),
        ({"image": png_b64(), "prompt": "x", "max_pixels": 10}, ["'max_pixels'", "at least"]),
    ],
)
def test_bad_input_is_an_application_error_naming_the_field(ready, value, words):
    status, body = call(ready, "POST", "/run", {"value": value})
    assert status == 200 and set(body) == {"error"}
    for w in words:
        assert w in body["error"]


@pytest.mark.timeout(60)
def test_a_smaller_pixel_budget_encodes_fewer_patches(ready):
    """`max_pixels` per request (a hint option's pixel budget): fewer image tokens, less time."""
    big = png_b64(size=(640, 480))
    full = call(ready, "POST", "/run", {"value": {"image": big, "prompt": "x", "max_tokens": 2}})
    small = call(
        ready,
        "POST",
        "/run",
        {"value": {"image": big, "prompt": "x", "max_tokens": 2, "max_pixels": 56 * 56 * 2}},
    )
    assert full[0] == small[0] == 200
    assert 0 < small[1]["image_patches"] < full[1]["image_patches"]


@pytest.mark.timeout(60)
def test_init_once_and_run_before_init(server):
    status, body = call(server, "POST", "/run", {"value": {"prompt": "x"}})
    assert status == 500 and "/init" in body["error"]
    status, body = call(
        server, "POST", "/init", {"value": {"main": json.dumps({**TINY, "colour": "red"})}}
    )
    assert (
        status == 502 and "unknown keys ['colour']" in body["error"] and "preset" in body["error"]
    )
    status, _ = call(
        server,
        "POST",
        "/init",
        {"value": {"env": {"preset": "tiny", "max_batch": "2", "policy": "chunk"}}},
    )
    assert status == 200
    status, body = call(server, "POST", "/init", {"value": {"main": json.dumps(TINY)}})
    assert status == 403 and "more than once" in body["error"]


@pytest.mark.timeout(120)
def test_python_m_runtimes_vlm_serves_the_protocol(tmp_path):
    """The container entry point as a process: what the image runs."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "__OW_PROXY_HOST": "127.0.0.1",
        "__OW_PROXY_PORT": str(port),
        "PYTHONPATH": os.getcwd(),
    }
    log = open(tmp_path / "out.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtimes.vlm"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(200):
            try:
                call(port, "GET", "/metrics")
                break
            except OSError:
                time.sleep(0.05)
        assert call(port, "POST", "/init", {"value": {"main": json.dumps(TINY)}})[0] == 200
        status, body = call(
            port,
            "POST",
            "/run",
            {"value": {"image": png_b64(), "prompt": "go back", "max_tokens": 4}},
        )
        assert status == 200 and body["token_ids"]
    finally:
        proc.terminate()
        proc.wait(10)
    log.seek(0)
    assert log.read().count(SENTINEL) == 2  # stdout and stderr of the one activation


@pytest.mark.timeout(60)
def test_offloaded_vision_encoder_gives_the_same_answer(server):
    runs = []
    for offload in (False, True):
        runtime = VLMRuntime()
        assert runtime.init({"value": {"main": json.dumps({**TINY, "offload": offload})}})[0] == 200
        try:
            status, body = runtime.run(
                {"value": {"image": png_b64(3), "prompt": "scroll down", "max_tokens": 8}}
            )
        finally:
            runtime.close()
        assert status == 200, body
        runs.append(json.loads(body)["token_ids"])
    assert runs[0] == runs[1]
