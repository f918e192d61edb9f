"""Console login, logout, CSRF, readable errors and namespace isolation."""

from controller.config import GUEST_KEY, SYSTEM_KEY
from tests.console.conftest import ALICE_KEY, CODE

PAGES = [
    "/console/",
    "/console/actions",
    "/console/activations",
    "/console/workflows",
    "/console/savings",
    "/console/gpu",
]
APIS = [
    "/console/api/overview",
    "/console/api/activations",
    "/console/api/savings",
    "/console/api/gpu",
]


def test_every_page_and_api_needs_a_login(console):
    for path in PAGES:
        r = console.get(path)
        assert r.status_code == 302 and "/console/login" in r.headers["Location"], path
    for path in APIS:
        r = console.get(path)
        assert r.status_code == 401 and "log in" in r.get_json()["error"], path


def test_login_with_a_bad_key_says_why(console):
    r = console.client.post("/console/login", data={"key": "not-a-key"})
    assert r.status_code == 401 and b"UUID:KEY" in r.data
    r = console.client.post("/console/login", data={"key": GUEST_KEY[:-3] + "xyz"})
    assert r.status_code == 401 and b"This key is not valid" in r.data
    assert console.get("/console/").status_code == 302


def test_login_returns_to_the_page_asked_for_and_logout_ends_the_session(console):
    r = console.client.post("/console/login?next=/console/actions", data={"key": GUEST_KEY})
    assert r.headers["Location"].endswith("/console/actions")
    console.login()
    for path in PAGES + APIS:
        assert console.get(path).status_code == 200, path
    assert console.post("/console/logout").status_code == 302
    assert console.get("/console/").status_code == 302


def test_cookie_is_signed_and_holds_no_secret(console):
    console.login()
    cookie = console.client.get_cookie("tango_console", path="/console")
    assert cookie is not None
    assert GUEST_KEY.split(":")[1] not in cookie.value
    console.client.set_cookie("tango_console", cookie.value[:-4] + "AAAA", path="/console")
    assert console.get("/console/").status_code == 302


def test_posts_without_the_csrf_token_are_refused_readably(console):
    console.login()
    r = console.client.post("/console/actions/x/invoke", data={"params": "{}"})
    assert r.status_code == 400 and b"reload the page" in r.data
    assert b"Traceback" not in r.data


def test_unknown_pages_and_records_render_messages_not_traces(console):
    console.login()
    r = console.get("/console/no/such/page")
    assert r.status_code == 404 and b"There is no console page" in r.data
    r = console.get("/console/activations/0123")
    assert r.status_code == 404 and b"No activation 0123" in r.data
    r = console.get("/console/workflows/ghost")
    assert r.status_code == 404 and b"No workflow &#39;ghost&#39;" in r.data
    assert b"<html" in r.data.lower()


def test_a_non_admin_key_sees_only_its_own_namespace(console):
    console.api("PUT", "/api/v1/namespaces/guest/actions/secret", json=CODE)
    r = console.api("POST", "/api/v1/namespaces/guest/actions/secret?blocking=true", json={})
    aid = r.get_json()["activationId"]
    console.login(ALICE_KEY)
    assert b"secret" not in console.get("/console/actions").data
    assert console.get(f"/console/activations/{aid}").status_code == 404
    assert console.get("/console/actions/secret").status_code == 404
    r = console.post("/console/namespace", {"ns": "guest"})
    assert r.status_code == 403 and b"Only an admin key" in r.data
    assert b"secret" not in console.get("/console/actions").data


def test_containers_of_other_namespaces_are_hidden_from_non_admins(console):
    console.invoker.containers = [
        {
            "name": "wsk0_guest",
            "action": "guest/secret",
            "state": "warm",
            "cpu": 1.0,
            "memory": 256,
            "lastUsed": 0,
        },
        {
            "name": "wsk1_alice",
            "action": "alice/mine",
            "state": "busy",
            "cpu": 0.5,
            "memory": 128,
            "lastUsed": 0,
        },
    ]
    console.login(ALICE_KEY)
    page = console.get("/console/").get_data(as_text=True)
    assert "alice/mine" in page and "guest/secret" not in page


def test_an_admin_switches_namespaces(console):
    console.api("PUT", "/api/v1/namespaces/guest/actions/shared", json=CODE)
    console.invoker.containers = [
        {
            "name": "wsk0_guest",
            "action": "guest/shared",
            "state": "warm",
            "cpu": 1.0,
            "memory": 256,
            "lastUsed": 0,
        }
    ]
    console.login(SYSTEM_KEY)
    assert b"guest/shared" in console.get("/console/").data  # admins see every container
    assert b"shared" not in console.get("/console/actions").data  # whisk.system's own actions first
    r = console.post("/console/namespace", {"ns": "guest"})
    assert r.status_code == 302
    assert b"shared" in console.get("/console/actions").data
    r = console.post("/console/namespace", {"ns": "nobody"})
    assert r.status_code == 404 and b"no namespace" in r.data


def test_an_unexpected_failure_is_a_readable_page_and_a_json_error(console, monkeypatch):
    console.login()

    def broken(*a, **kw):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(console.services.workflows, "list", broken)
    r = console.get("/console/workflows")
    assert r.status_code == 500 and b"Something went wrong" in r.data
    assert b"database on fire" not in r.data and b"Traceback" not in r.data
    monkeypatch.setattr(console.services.activations, "list", broken)
    r = console.get("/console/api/overview")
    assert r.status_code == 500 and "Something went wrong" in r.get_json()["error"]
