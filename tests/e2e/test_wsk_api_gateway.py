"""``tango api create|list|get|delete`` (wsk's API gateway commands) through the real CLI, and
the routes they make answered by the running controller (issue 18)."""

from __future__ import annotations

import json

import pytest
import requests

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HELLO = "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'World')}\n"
BOOK = "def main(args):\n    return {'isbn': args['isbn'], 'method': args.get('__ow_method')}\n"


@pytest.fixture(scope="module")
def ns(platform, tmp_path_factory):
    ns = platform.in_new_namespace("wskapi")
    tmp = tmp_path_factory.mktemp("apis")
    (tmp / "hello.py").write_text(HELLO)
    (tmp / "book.py").write_text(BOOK)
    ns.tango("action", "create", "hello", str(tmp / "hello.py"), "--web", "true")
    ns.tango("package", "create", "library")
    ns.tango("action", "create", "library/book", str(tmp / "book.py"), "--web", "true")
    ns.tango("action", "create", "private", str(tmp / "hello.py"))
    return ns


def test_create_then_the_printed_url_answers_with_the_actions_result(ns):
    out = ns.tango("api", "create", "/hello", "/world", "get", "hello", "--response-type", "json")
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "ok: created API /hello/world GET for action /_/hello"
    url = lines[1]
    assert url.startswith(ns.apihost + "/api/") and url.endswith("/hello/world")
    r = requests.get(url, params={"name": "Gateway"}, timeout=60)
    assert r.status_code == 200 and r.json() == {"greeting": "Hello Gateway"}
    assert requests.post(url, timeout=60).status_code == 404  # only the verb created
    listed = ns.tango("api", "list").stdout.splitlines()
    assert listed[0] == "ok: APIs" and listed[1].split() == ["Action", "Verb", "API", "Name", "URL"]
    assert [f"/{ns.tango_json('namespace', 'list')[0]}/hello", "get", "/hello", url] in [
        row.split() for row in listed[2:]
    ]
    swagger = json.loads(ns.tango("api", "get", "/hello").stdout)
    assert swagger["basePath"] == "/hello"
    assert swagger["paths"]["/world"]["get"]["x-openwhisk"]["action"] == "hello"
    assert ns.tango("api", "delete", "/hello").stdout.strip() == "ok: deleted API /hello"
    assert requests.get(url, timeout=60).status_code == 404
    assert "/hello/world" not in ns.tango("api", "list").stdout


def test_path_parameters_and_deleting_one_route(ns):
    out = ns.tango(
        "api", "create", "/books", "/isbn/{isbn}", "post", "library/book", "--apiname", "Books"
    )
    url = out.stdout.strip().splitlines()[1]
    assert url.endswith("/books/isbn/{isbn}")
    ns.tango("api", "create", "/books", "/isbn/{isbn}", "get", "library/book")
    r = requests.post(url.replace("{isbn}", "978-3"), timeout=60)
    assert r.status_code == 200 and r.json() == {"isbn": "978-3", "method": "post"}
    listed = ns.tango("api", "list", "/books").stdout
    assert "Books" in listed and " get " in listed and " post " in listed
    out = ns.tango("api", "delete", "/books", "/isbn/{isbn}", "post").stdout
    assert out.strip() == "ok: deleted /isbn/{isbn} POST from /books"
    assert requests.post(url.replace("{isbn}", "1"), timeout=60).status_code == 404
    assert requests.get(url.replace("{isbn}", "1"), timeout=60).json()["isbn"] == "1"


def test_swagger_import_and_refusals(ns, tmp_path):
    swagger = {
        "swagger": "2.0",
        "basePath": "/shop",
        "info": {"title": "Shop", "version": "1.0"},
        "paths": {
            "/greet": {
                "get": {
                    "operationId": "greet",
                    "responses": {"default": {"description": "ok"}},
                    "x-openwhisk": {
                        "namespace": "_",
                        "package": "",
                        "action": "hello",
                        "url": "http://example/api/v1/web/_/default/hello.json",
                    },
                }
            }
        },
    }
    (tmp_path / "shop.json").write_text(json.dumps(swagger))
    out = ns.tango("api", "create", "--config-file", str(tmp_path / "shop.json")).stdout
    url = out.strip().splitlines()[-1]
    assert url.endswith("/shop/greet")
    assert requests.get(url, timeout=60).json() == {"greeting": "Hello World"}
    refused = ns.tango("api", "create", "/p", "/q", "get", "private", check=False)
    assert refused.returncode != 0 and "is not a web action" in refused.stderr
    bad = ns.tango("api", "create", "nope", "/q", "get", "hello", check=False)
    assert bad.returncode != 0 and "must start with '/'" in bad.stderr
    ns.tango("api", "delete", "Shop")
    assert requests.get(url, timeout=60).status_code == 404
