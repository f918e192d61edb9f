"""Web actions (``/api/v1/web/...``) against a fresh store and a fake invoker, plus the pure
request/response translation of controller/api/web.py: OpenWhisk's arguments, responses,
status codes and messages (docs/design.md §7.4)."""

from __future__ import annotations

import base64

import pytest

from controller.api import web
from controller.config import GUEST_KEY
from tests.controller.conftest import FakeInvoker, basic

ECHO = {"exec": {"kind": "python:3.11", "code": "def main(args):\n    return args\n"}}


def put_action(client, guest, path, annotations, parameters=()):
    body = {
        **ECHO,
        "annotations": [{"key": k, "value": v} for k, v in annotations.items()],
        "parameters": [{"key": k, "value": v} for k, v in parameters],
    }
    r = client.put(f"/api/v1/namespaces/_/actions/{path}?overwrite=true", json=body, headers=guest)
    assert r.status_code == 200, r.json


def answer_with(fake, result, status_code=0):
    fake.behaviour = lambda body: (200, FakeInvoker.record(body, result, status_code))


# ---- through the REST API ---------------------------------------------------------------


def test_json_extension_passes_request_context_query_and_path(platform, guest):
    client, _, fake = platform
    put_action(client, guest, "echo", {"web-export": True})
    r = client.get("/api/v1/web/guest/default/echo.json/a/b?name=Ada", headers={"X-Custom": "1"})
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert (
        r.json["name"] == "Ada" and r.json["__ow_method"] == "get" and r.json["__ow_path"] == "/a/b"
    )
    assert r.json["__ow_headers"]["x-custom"] == "1"
    assert "__ow_user" not in r.json and "__ow_body" not in r.json
    assert r.headers["x-openwhisk-activation-id"] == fake.requests[-1]["activationId"]
    assert fake.requests[-1]["subject"] == "guest"


def test_body_json_and_form_are_merged_and_reserved_names_refused(platform, guest):
    client, _, _ = platform
    put_action(client, guest, "echo", {"web-export": True})
    r = client.post("/api/v1/web/guest/default/echo.json?a=1", json={"b": 2})
    assert (
        r.status_code == 200
        and r.json["a"] == "1"
        and r.json["b"] == 2
        and r.json["__ow_method"] == "post"
    )
    r = client.put(
        "/api/v1/web/guest/default/echo.json",
        data="x=1&y=two",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.json["x"] == "1" and r.json["y"] == "two" and r.json["__ow_method"] == "put"
    r = client.post("/api/v1/web/guest/default/echo.json", json={"__ow_method": "evil"})
    assert r.status_code == 400 and r.json["error"] == web.PARAMS_NOT_ALLOWED


def test_final_parameters_cannot_be_overridden(platform, guest):
    client, _, _ = platform
    put_action(client, guest, "fixed", {"web-export": True, "final": True}, [("name", "Bob")])
    assert client.get("/api/v1/web/guest/default/fixed.json").json["name"] == "Bob"
    r = client.get("/api/v1/web/guest/default/fixed.json?name=Eve")
    assert r.status_code == 400 and r.json["error"] == web.PARAMS_NOT_ALLOWED


def test_raw_mode_gets_query_string_and_body_unparsed(platform, guest):
    client, _, _ = platform
    put_action(client, guest, "raw", {"web-export": True, "raw-http": True})
    r = client.post("/api/v1/web/guest/default/raw.json?x=1&y=2", json={"k": "v"})
    assert r.json["__ow_query"] == "x=1&y=2" and "x" not in r.json and "k" not in r.json
    assert base64.b64decode(r.json["__ow_body"]) == b'{"k": "v"}'
    r = client.post(
        "/api/v1/web/guest/default/raw.json", data="plain text", content_type="text/plain"
    )
    assert r.json["__ow_body"] == "plain text"
    assert client.get("/api/v1/web/guest/default/raw.json").json["__ow_body"] == ""


def test_not_exported_or_missing_actions_are_not_found(platform, guest):
    client, _, fake = platform
    put_action(client, guest, "private", {})
    for path in (
        "guest/default/private.json",
        "guest/default/nothere.json",
        "nobody/default/x.json",
    ):
        r = client.get(f"/api/v1/web/{path}")
        assert r.status_code == 404 and r.json["error"] == "The requested resource does not exist."
    put_action(client, guest, "off", {"web-export": False})
    assert client.get("/api/v1/web/guest/default/off.json").status_code == 404
    assert fake.requests == []


def test_require_whisk_auth_true_needs_a_valid_key(platform, guest):
    client, _, _ = platform
    put_action(client, guest, "secure", {"web-export": True, "require-whisk-auth": True})
    r = client.get("/api/v1/web/guest/default/secure.json")
    assert r.status_code == 401 and r.json["error"] == "The supplied authentication is invalid."
    bad = basic(GUEST_KEY.split(":")[0] + ":" + "x" * 64)
    assert client.get("/api/v1/web/guest/default/secure.json", headers=bad).status_code == 401
    r = client.get("/api/v1/web/guest/default/secure.json", headers=guest)
    assert r.status_code == 200 and r.json["__ow_user"] == "guest"


def test_require_whisk_auth_secret_must_match_header(platform, guest):
    client, _, _ = platform
    put_action(client, guest, "secret", {"web-export": True, "require-whisk-auth": 4242})
    url = "/api/v1/web/guest/default/secret.json"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-Require-Whisk-Auth": "4241"}).status_code == 401
    assert client.get(url, headers={"X-Require-Whisk-Auth": "4242"}).status_code == 200


def test_http_extension_builds_the_response(platform, guest):
    client, _, fake = platform
    put_action(client, guest, "page", {"web-export": True})
    answer_with(
        fake,
        {
            "statusCode": 201,
            "headers": {"X-Seen": ["a", "b"], "Location": "/x"},
            "body": "<h1>hi</h1>",
        },
    )
    for url in ("/api/v1/web/guest/default/page.http", "/api/v1/web/guest/default/page"):
        r = client.delete(url)
        assert r.status_code == 201 and r.data == b"<h1>hi</h1>" and r.mimetype == "text/html"
        assert r.headers.getlist("X-Seen") == ["a", "b"] and r.headers["Location"] == "/x"
    png = b"\x89PNG\r\n\x1a\nbinary"
    answer_with(
        fake, {"headers": {"Content-Type": "image/png"}, "body": base64.b64encode(png).decode()}
    )
    r = client.get("/api/v1/web/guest/default/page.http")
    assert r.status_code == 200 and r.data == png and r.mimetype == "image/png"
    answer_with(fake, {"statusCode": 302, "headers": {"location": "https://example.org"}})
    r = client.patch("/api/v1/web/guest/default/page.http")
    assert r.status_code == 302 and r.data == b"" and "Content-Type" not in r.headers
    answer_with(fake, {"body": {"ok": True}})
    r = client.get("/api/v1/web/guest/default/page.http")
    assert r.status_code == 200 and r.json == {"ok": True}
    answer_with(fake, {"statusCode": "abc"})
    r = client.get("/api/v1/web/guest/default/page.http")
    assert r.status_code == 400 and r.json["error"] == "Response is not valid 'message/http'."


def test_errors_of_the_action(platform, guest):
    client, _, fake = platform
    put_action(client, guest, "fails", {"web-export": True})
    answer_with(fake, {"error": {"statusCode": 404, "body": "no such page"}}, status_code=1)
    r = client.get("/api/v1/web/guest/default/fails.http")
    assert r.status_code == 404 and r.data == b"no such page"
    answer_with(
        fake, {"error": "The action did not produce a valid response and exited unexpectedly."}, 2
    )
    r = client.get("/api/v1/web/guest/default/fails.http")
    assert r.status_code == 400 and r.json["error"] == web.ERROR_PROCESSING


def test_options_preflight_and_the_actions_own_cors_headers(platform, guest):
    client, _, fake = platform
    put_action(client, guest, "cors", {"web-export": True})
    before = len(fake.requests)
    r = client.options("/api/v1/web/guest/default/cors.http")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert len(fake.requests) == before  # answered without running the action
    put_action(client, guest, "custom", {"web-export": True, "web-custom-options": True})
    answer_with(
        fake, {"statusCode": 204, "headers": {"Access-Control-Allow-Origin": "https://example.org"}}
    )
    r = client.options("/api/v1/web/guest/default/custom.http")
    assert (
        len(fake.requests) == before + 1 and fake.requests[-1]["params"]["__ow_method"] == "options"
    )
    assert r.headers["Access-Control-Allow-Origin"] == "https://example.org"


def test_web_action_inside_a_package(platform, guest):
    client, _, _ = platform
    r = client.put(
        "/api/v1/namespaces/_/packages/site",
        json={"parameters": [{"key": "greeting", "value": "hi"}]},
        headers=guest,
    )
    if r.status_code == 404:
        pytest.skip("packages are not available in this build")
    assert r.status_code == 200, r.json
    put_action(client, guest, "site/home", {"web-export": True})
    r = client.get("/api/v1/web/guest/site/home.json")
    assert r.status_code == 200 and r.json["greeting"] == "hi"
    assert client.get("/api/v1/web/guest/default/home.json").status_code == 404


# ---- pure translation -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,expected",
    [
        ("a.json", ("a", ".json")),
        ("a", ("a", ".http")),
        ("my.action", ("my.action", ".http")),
        ("x.text", ("x", ".text")),
        (".json", (".json", ".http")),
    ],
)
def test_split_extension(name, expected):
    assert web.split_extension(name) == expected


def test_representations_of_a_result():
    assert web.web_response({"html": "<p>x</p>"}, ".html").body == b"<p>x</p>"
    assert web.web_response({"svg": "<svg/>"}, ".svg").content_type.startswith("image/svg+xml")
    assert web.web_response({"text": "plain"}, ".text").body == b"plain"
    assert web.web_response({"body": True}, ".text").body == b"true"
    assert web.web_response("just a string", ".html").body == b"just a string"
    assert web.web_response([1, 2], ".json").body == b"[1, 2]"
    for result, ext, status, message in (
        ({"x": 1}, ".html", 400, "Response is not valid 'text/html'."),
        ({"x": 1}, ".text", 404, web.PROPERTY_NOT_FOUND),
        ("s", ".json", 400, "Response is not valid 'application/json'."),
        (
            {"body": {"a": 1}, "headers": {"Content-Type": "text/plain"}},
            ".http",
            400,
            web.CONTENT_TYPE_MISMATCH,
        ),
        (
            {"body": "x", "headers": {"Content-Type": "nonsense"}},
            ".http",
            400,
            web.UNKNOWN_CONTENT_TYPE,
        ),
        (
            {"body": "!!not base64!!", "headers": {"Content-Type": "image/png"}},
            ".http",
            400,
            web.CONTENT_TYPE_MISMATCH,
        ),
    ):
        with pytest.raises(web.WebError) as err:
            web.web_response(result, ext)
        assert (err.value.status, err.value.message) == (status, message)


def test_http_json_family_and_empty_bodies():
    out = web.http_response(
        {"body": {"a": 1}, "headers": {"Content-Type": "application/vnd.api+json"}}
    )
    assert out.content_type.startswith("application/vnd.api+json") and b'"a": 1' in out.body
    assert web.http_response({}).status == 204
    assert web.http_response({"body": "", "statusCode": 200}).status == 200


def test_arguments_of_a_binary_body_are_base64():
    req = web.WebRequest(
        "POST", {"content-type": "application/octet-stream"}, "", "", body=b"\x00\x01"
    )
    assert web.action_arguments(req, raw=False, final_params=set())["__ow_body"] == "AAE="
