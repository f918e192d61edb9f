"""Issue 14, finding 4: the invoker's endpoints, `/metrics` included, need its credentials.

Action code on the host network reaches the invoker's loopback port, and the invoker's metrics
name the actions of every namespace; so every endpoint asks for the internal token
(`X-Tango-Internal`), which the controller sends and a Prometheus scrape config can send too.
The invoker's Flask app with its real Docker backend (nothing is started).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker

TOKEN = "s3cret-internal-token"


@pytest.fixture
def client(docker_client):
    from invoker.config import InvokerConfig
    from invoker.service import create_app

    app = create_app(InvokerConfig(id="pytest-cred", token=TOKEN, prewarm=()))
    return app.test_client()


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/metrics"), ("GET", "/status"), ("GET", "/ping"), ("POST", "/invoke")],
)
@pytest.mark.parametrize("presented", [None, "wrong", TOKEN[:-1], "tökén"])
def test_every_endpoint_refuses_callers_without_the_internal_token(client, method, path, presented):
    headers = {} if presented is None else {"X-Tango-Internal": presented}
    reply = client.open(path, method=method, headers=headers, json={} if method == "POST" else None)
    assert reply.status_code == 401
    assert set(reply.get_json()) == {"error", "code"}
    assert "X-Tango-Internal" in reply.get_json()["error"]


def test_the_platform_reads_metrics_and_status_with_it(client):
    internal = {"X-Tango-Internal": TOKEN}
    metrics = client.get("/metrics", headers=internal)
    assert metrics.status_code == 200 and "tango_invoker_containers" in metrics.get_data(True)
    assert client.get("/status", headers=internal).get_json()["id"] == "pytest-cred"
