"""Overview, actions and activations pages and their live JSON endpoints."""

import re

from tests.console.conftest import CODE


def deploy_and_invoke(console, name="hello", params=None):
    console.api("PUT", f"/api/v1/namespaces/guest/actions/{name}", json=CODE)
    r = console.api(
        "POST", f"/api/v1/namespaces/guest/actions/{name}?blocking=true", json=params or {}
    )
    return r.get_json()["activationId"]


def test_overview_counts_rates_errors_and_cold_starts(console):
    deploy_and_invoke(console)  # the fake invoker's first start is cold
    deploy_and_invoke(console)
    deploy_and_invoke(console, params={"fail": True})
    console.invoker.containers = [
        {
            "name": "wsk0_guest_hello",
            "action": "guest/hello",
            "state": "warm",
            "cpu": 1.5,
            "memory": 512,
            "lastUsed": 0,
        },
        {
            "name": "wsk1_guest_hello",
            "action": "guest/hello",
            "state": "busy",
            "cpu": 0.5,
            "memory": 256,
            "lastUsed": 0,
        },
    ]
    console.login()
    page = console.get("/console/").get_data(as_text=True)
    assert "invoker0" in page and "wsk0_guest_hello" in page and "1.5" in page
    assert re.search(r'id="cold-warm">1 / 0 / 2<', page)
    assert 'data-series="activations/s"' in page
    assert re.search(r'id="error-rate">33.3 %<', page)
    data = console.get("/console/api/overview").get_json()
    stats = data["data"]["activations"]
    assert (
        stats["count"] == 3 and stats["errors"] == 1 and stats["cold"] == 1 and stats["warm"] == 2
    )
    assert stats["perSecond"] == 0.05
    assert {s["state"]: s["count"] for s in data["data"]["containers"]} == {"busy": 1, "warm": 1}
    assert "wsk1_guest_hello" in data["fragments"]["live-overview"]


def test_an_unreachable_invoker_is_reported(console):
    console.invoker.close()
    console.login()
    page = console.get("/console/").get_data(as_text=True)
    assert "did not answer /status" in page


def test_actions_list_search_and_kind_filter(console):
    console.api("PUT", "/api/v1/namespaces/guest/actions/resize", json=CODE)
    console.api("PUT", "/api/v1/namespaces/guest/actions/classify", json=CODE)
    console.login()
    page = console.get("/console/actions").get_data(as_text=True)
    assert "resize" in page and "classify" in page
    page = console.get("/console/actions?q=res").get_data(as_text=True)
    assert "resize" in page and "classify" not in page
    page = console.get("/console/actions?kind=vlm").get_data(as_text=True)
    assert "No actions match" in page


def test_invoke_from_the_form_shows_the_activation_record(console):
    console.api("PUT", "/api/v1/namespaces/guest/actions/hello", json=CODE)
    console.login()
    assert b"Invoke" in console.get("/console/actions/hello").data
    r = console.post("/console/actions/hello/invoke", {"params": '{"name": "World"}'})
    assert r.status_code == 302
    aid = r.headers["Location"].rsplit("/", 1)[1]
    page = console.get(f"/console/activations/{aid}").get_data(as_text=True)
    assert aid in page
    assert '"name": "World"' in page  # result
    assert "hello from the action" in page  # logs
    assert re.search(r'id="wait-time">7 ms<', page)
    assert re.search(r'id="init-time">42 ms<', page)
    assert "1.0 cpu / 256 MB" in page  # the size it ran at
    assert "12.5 ms CPU time" in page and "0.5 cores" in page and "30.0 MB peak" in page


def test_invoke_with_bad_parameters_says_what_is_accepted(console):
    console.api("PUT", "/api/v1/namespaces/guest/actions/hello", json=CODE)
    console.login()
    r = console.post("/console/actions/hello/invoke", {"params": "[1, 2]"})
    assert r.status_code == 400 and b"expected a JSON object" in r.data
    r = console.post("/console/actions/hello/invoke", {"params": "{oops"})
    assert r.status_code == 400 and b"not a JSON object" in r.data
    r = console.post("/console/actions/nothing/invoke", {"params": "{}"})
    assert r.status_code == 404 and b"Traceback" not in r.data


def test_activations_search_and_status_filter(console):
    ok = deploy_and_invoke(console, "alpha")
    bad = deploy_and_invoke(console, "beta", {"fail": True})
    console.login()
    page = console.get("/console/activations").get_data(as_text=True)
    assert ok in page and bad in page
    page = console.get("/console/activations?status=error").get_data(as_text=True)
    assert bad in page and ok not in page
    page = console.get(f"/console/activations?q={ok[:8]}").get_data(as_text=True)
    assert ok in page and bad not in page
    page = console.get("/console/activations?name=beta").get_data(as_text=True)
    assert bad in page and ok not in page
    data = console.get("/console/api/activations?status=success").get_json()
    assert [a["id"] for a in data["data"]["activations"]] == [ok]
    assert ok in data["fragments"]["live-activations"]
