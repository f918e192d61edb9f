"""GPU runtimes page: the no-VLM state, a VLM container whose /metrics answers (a stand-in
server on 127.0.0.1 with the runtime's metrics shape), one the invoker paused (its last metrics
shown, not asked again), one found by its kind alone, and one that cannot be reached."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.console.conftest import ALICE_KEY

METRICS = {
    "initialized": True,
    "policy": "nova",
    "queues": {"waiting": 3, "ready": 1, "in_vision": 1, "in_prefill": 0, "decoding": 4},
    "partition": {
        "sm_split": {"vision": 33, "prefill": 66, "decode": 33},
        "total_sms": 132,
        "pipelined": True,
        "reason": "pareto knee",
    },
    "decode_batch": {"histogram": {"4": 10}, "max": 4},
    "arrival_rate": 2.5,
    "counts": {"done": 10, "failed": 0},
    "latency_ms": {
        "ttft_ms": {
            "count": 10,
            "mean": 120.0,
            "p50": 110.0,
            "p90": 150.0,
            "p99": 190.0,
            "max": 200.0,
        },
        "total_ms": {
            "count": 10,
            "mean": 800.0,
            "p50": 780.0,
            "p90": 900.0,
            "p99": 990.0,
            "max": 1000.0,
        },
        "vision_ms": {"count": 0},
    },
}


@pytest.fixture
def vlm_runtime():
    """A stand-in runtime on 127.0.0.1 answering ``server.metrics``; ``server.asked`` lists the
    requests it got."""
    asked = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            asked.append(self.path)
            data = json.dumps(server.metrics).encode()
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.asked, server.metrics = asked, METRICS
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def deploy_vlm(console):
    r = console.api(
        "PUT", "/api/v1/namespaces/guest/actions/agent", json={"exec": {"kind": "vlm", "code": "x"}}
    )
    assert r.status_code == 200, r.data


def test_without_a_vlm_action_the_page_says_so(console):
    console.login()
    page = console.get("/console/gpu").get_data(as_text=True)
    assert "No VLM runtime deployed" in page


def test_a_deployed_vlm_action_without_containers(console):
    deploy_vlm(console)
    console.login()
    page = console.get("/console/gpu").get_data(as_text=True)
    assert "No container of these actions is running" in page and "agent" in page


def runtime_container(port: int, state: str = "busy", **kw) -> dict:
    return {
        "name": "wsk5_agent",
        "action": "guest/agent",
        "kind": "vlm",
        "state": state,
        "cpu": 8.0,
        "memory": 16384,
        "lastUsed": 0,
        "port": port,
        **kw,
    }


def test_metrics_of_a_running_vlm_container_are_shown_and_remembered(console, vlm_runtime):
    deploy_vlm(console)
    console.invoker.containers = [runtime_container(vlm_runtime.server_address[1])]
    console.login()
    page = console.get("/console/gpu").get_data(as_text=True)
    assert "wsk5_agent" in page and "pareto knee" in page
    assert 'data-series="prefill"' in page and 'data-series="vision"' in page
    split = page[page.index('class="grid split"') :]
    assert '<tr data-stage="prefill"><td>prefill</td><td>66</td><td>50 %</td></tr>' in split
    assert '<tr data-queue="decoding"><td>decoding</td><td>4</td></tr>' in page
    latency = page[page.index('id="vlm-latency"') :]
    assert (
        "nova" in latency
        and "ttft_ms" in latency
        and "190 ms" in latency
        and "vision_ms" not in latency
    )
    assert latency.index("ttft_ms") < latency.index("total_ms")
    data = console.get("/console/api/gpu").get_json()["data"]
    rt = data["runtimes"][0]
    assert len(rt["history"]) == 2  # one point per poll
    assert rt["history"][-1]["shares"] == {"vision": 0.25, "prefill": 0.5, "decode": 0.25}


def test_a_paused_runtime_shows_its_last_metrics_without_being_asked(console, vlm_runtime):
    deploy_vlm(console)
    port = vlm_runtime.server_address[1]
    console.invoker.containers = [runtime_container(port)]
    console.login()
    console.get("/console/api/gpu")
    asked = len(vlm_runtime.asked)
    console.invoker.containers = [runtime_container(port, state="paused")]
    page = console.get("/console/gpu").get_data(as_text=True)
    assert len(vlm_runtime.asked) == asked  # a frozen container is not asked
    assert (
        'data-stale="yes"' in page
        and "Last metrics, from" in page
        and "paused this idle container" in page
    )
    assert "pareto knee" in page and "190 ms" in page and "Metrics unavailable" not in page


def test_a_runtime_is_found_by_its_kind_and_hidden_from_other_namespaces(console, vlm_runtime):
    console.invoker.containers = [
        runtime_container(vlm_runtime.server_address[1])
    ]  # no vlm action in the store
    console.login()
    assert "wsk5_agent" in console.get("/console/gpu").get_data(as_text=True)
    console.login(ALICE_KEY)
    page = console.get("/console/gpu").get_data(as_text=True)
    assert "wsk5_agent" not in page and "No VLM runtime deployed" in page


def test_a_container_without_a_reachable_metrics_endpoint(console):
    deploy_vlm(console)
    console.invoker.containers = [
        {
            "name": "wsk6_agent",
            "action": "guest/agent",
            "state": "warm",
            "cpu": 1.0,
            "memory": 2048,
            "lastUsed": 0,
        }
    ]
    console.login()
    page = console.get("/console/gpu").get_data(as_text=True)
    assert "Metrics unavailable" in page and "does not report this container&#39;s port" in page


def test_an_idle_runtime_says_so_instead_of_a_split_of_zeros(console, vlm_runtime):
    vlm_runtime.metrics = {
        **METRICS,
        "partition": {"sm_split": {}, "total_sms": 132, "pipelined": True, "reason": "idle"},
    }
    console.invoker.containers = [runtime_container(vlm_runtime.server_address[1], state="warm")]
    console.login()
    page = console.get("/console/gpu").get_data(as_text=True)
    assert "Idle: no stage has work right now." in page and 'class="grid split"' not in page
    shares = console.get("/console/api/gpu").get_json()["data"]["runtimes"][0]["history"][-1][
        "shares"
    ]
    assert shares == {"vision": 0.0, "prefill": 0.0, "decode": 0.0}
