"""``tango action ...``: the exact requests sent (OpenWhisk API) and what is printed."""

import base64
import json

import pytest

from tests.cli.conftest import API, GUEST_KEY, Reply

ACTION = {
    "namespace": "guest",
    "name": "hello",
    "version": "0.0.1",
    "publish": False,
    "exec": {"kind": "python:3.11", "code": "def main(args):\n    return args\n", "binary": False},
    "annotations": [{"key": "exec", "value": "python:3.11"}],
    "parameters": [{"key": "name", "value": "World"}],
    "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
}
RECORD = {
    "namespace": "guest",
    "name": "hello",
    "version": "0.0.1",
    "activationId": "a" * 32,
    "start": 1,
    "end": 2,
    "duration": 1,
    "statusCode": 0,
    "response": {
        "status": "success",
        "statusCode": 0,
        "success": True,
        "result": {"greeting": "hi"},
    },
    "logs": [],
    "annotations": [],
}


@pytest.fixture
def code_file(tmp_path):
    path = tmp_path / "hello.py"
    path.write_text("def main(args):\n    return args\n")
    return path


def test_create_from_py_infers_kind_and_sends_put(wsk, api, code_file):
    api.on("PUT", f"{API}/actions/hello", ACTION)
    run = wsk("action", "create", "hello", str(code_file))
    assert (run.code, run.out) == (0, "ok: created action hello\n")
    req = api.last
    assert (req.method, req.path, req.query) == ("PUT", f"{API}/actions/hello", {})
    assert req.body == {
        "exec": {"kind": "python:default", "code": code_file.read_text(), "binary": False}
    }
    assert req.auth == GUEST_KEY


def test_create_with_every_flag(wsk, api, code_file, tmp_path):
    params = tmp_path / "p.json"
    params.write_text('{"a": 1, "b": "file"}')
    api.on("PUT", f"{API}/actions/hello", ACTION)
    run = wsk(
        "action",
        "create",
        "hello",
        str(code_file),
        "--kind",
        "python:3.11",
        "--main",
        "handler",
        "-t",
        "3000",
        "-m",
        "512",
        "-l",
        "5",
        "-c",
        "2",
        "-P",
        str(params),
        "-p",
        "b",
        "flag",
        "-p",
        "n",
        "3",
        "-p",
        "obj",
        '{"x": [1]}',
        "-a",
        "description",
        "greets",
    )
    assert run.code == 0
    assert api.last.body == {
        "exec": {
            "kind": "python:3.11",
            "code": code_file.read_text(),
            "binary": False,
            "main": "handler",
        },
        "limits": {"timeout": 3000, "memory": 512, "logs": 5, "concurrency": 2},
        "parameters": [
            {"key": "a", "value": 1},
            {"key": "b", "value": "flag"},
            {"key": "n", "value": 3},
            {"key": "obj", "value": {"x": [1]}},
        ],
        "annotations": [{"key": "description", "value": "greets"}],
    }


def test_update_uses_overwrite_and_sends_only_what_changed(wsk, api):
    api.on("PUT", f"{API}/actions/hello", ACTION)
    run = wsk("action", "update", "hello", "-m", "128")
    assert run.out == "ok: updated action hello\n"
    assert api.last.query == {"overwrite": "true"}
    assert api.last.body == {"limits": {"memory": 128}}


def test_create_without_code_is_refused_before_any_request(wsk, api):
    run = wsk("action", "create", "hello")
    assert run.code == 1
    assert run.err.startswith(
        "error: Unable to create action 'hello': An action name and code artifact"
    )
    assert api.requests == []


def test_zip_needs_kind_and_is_sent_as_base64(wsk, api, tmp_path):
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(b"PK\x03\x04binary")
    run = wsk("action", "create", "z", str(archive))
    assert run.code == 1 and "requires --kind" in run.err
    api.on("PUT", f"{API}/actions/z", ACTION)
    assert wsk("action", "create", "z", str(archive), "--kind", "python:3.11").code == 0
    assert api.last.body["exec"] == {
        "kind": "python:3.11",
        "binary": True,
        "code": base64.b64encode(b"PK\x03\x04binary").decode(),
    }


def test_unknown_extension_asks_for_kind(wsk, tmp_path):
    src = tmp_path / "x.rb"
    src.write_text("puts 1")
    run = wsk("action", "create", "x", str(src))
    assert run.code == 1 and "use --kind" in run.err


def test_sequence_components_are_fully_qualified(wsk, api):
    api.on("PUT", f"{API}/actions/pipeline", ACTION)
    wsk("action", "create", "pipeline", "--sequence", "a, pkg/b,/other/c")
    assert api.last.body == {
        "exec": {"kind": "sequence", "components": ["/_/a", "/_/pkg/b", "/other/c"]}
    }


def test_sequence_with_a_file_is_refused(wsk, code_file):
    assert wsk("action", "create", "s", str(code_file), "--sequence", "a").code == 1


def test_docker_action(wsk, api):
    api.on("PUT", f"{API}/actions/bb", ACTION)
    wsk("action", "create", "bb", "--docker", "me/img:1")
    assert api.last.body == {"exec": {"kind": "blackbox", "image": "me/img:1", "binary": False}}


@pytest.mark.parametrize(
    "web, expected",
    [
        ("true", {"web-export": True, "raw-http": False, "final": True}),
        ("raw", {"web-export": True, "raw-http": True, "final": True}),
        ("no", {"web-export": False, "raw-http": False, "final": False}),
    ],
)
def test_web_annotations(wsk, api, code_file, web, expected):
    api.on("PUT", f"{API}/actions/w", ACTION)
    wsk("action", "create", "w", str(code_file), "--web", web)
    assert {a["key"]: a["value"] for a in api.last.body["annotations"]} == expected


def test_web_secure_with_a_given_secret(wsk, api, code_file):
    api.on("PUT", f"{API}/actions/w", ACTION)
    wsk("action", "create", "w", str(code_file), "--web", "true", "--web-secure", "s3cret")
    assert {"key": "require-whisk-auth", "value": "s3cret"} in api.last.body["annotations"]
    run = wsk("action", "create", "w", str(code_file), "--web", "false", "--web-secure", "s3cret")
    assert run.code == 1 and "--web-secure needs a web action" in run.err


def test_web_secure_true_generates_a_secret_and_false_deletes_it(wsk, api, code_file):
    api.on("PUT", f"{API}/actions/w", ACTION)
    wsk("action", "create", "w", str(code_file), "--web", "true", "--web-secure", "true")
    secret = {a["key"]: a["value"] for a in api.last.body["annotations"]}["require-whisk-auth"]
    assert isinstance(secret, int) and secret > 0
    wsk("action", "update", "w", "--web-secure", "false")
    assert api.last.body == {"delAnnotations": ["require-whisk-auth"]}


def test_bad_web_value(wsk, code_file):
    run = wsk("action", "create", "w", str(code_file), "--web", "maybe")
    assert run.code == 1 and "Invalid argument 'maybe' for --web flag" in run.err


def test_bad_param_file_names_the_problem(wsk, code_file, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    run = wsk("action", "create", "x", str(code_file), "-P", str(bad))
    assert run.code == 1 and "expected a JSON object" in run.err


def test_conflict_maps_to_wsk_exit_code(wsk, api, code_file):
    api.on(
        "PUT",
        f"{API}/actions/hello",
        {"error": "resource already exists", "code": "tid9"},
        status=409,
    )
    run = wsk("action", "create", "hello", str(code_file))
    assert run.code == 409 - 256
    assert (
        run.err == "error: Unable to create action 'hello': resource already exists (code tid9)\n"
    )


def test_get_prints_ok_line_and_json(wsk, api):
    api.on("GET", f"{API}/actions/hello", ACTION)
    run = wsk("action", "get", "hello")
    first, rest = run.out.split("\n", 1)
    assert first == "ok: got action hello"
    assert json.loads(rest) == ACTION


def test_get_field_summary_and_json(wsk, api):
    api.on("GET", f"{API}/actions/hello", ACTION)
    run = wsk("action", "get", "hello", "limits")
    assert run.out.startswith("ok: got action hello, displaying field limits\n")
    assert json.loads(run.out.split("\n", 1)[1]) == ACTION["limits"]
    assert wsk("action", "get", "hello", "nope").code == 1
    assert (
        wsk("action", "get", "hello", "-s").out
        == "action /guest/hello (python:3.11)\n   (parameters: name)\n"
    )
    assert wsk("--json", "action", "get", "hello").json == ACTION


def test_get_save_writes_code_and_refuses_to_overwrite(wsk, api, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    api.on("GET", f"{API}/actions/hello", ACTION)
    run = wsk("action", "get", "hello", "--save")
    assert run.out == f"ok: saved action code to {tmp_path / 'hello.py'}\n"
    assert (tmp_path / "hello.py").read_text() == ACTION["exec"]["code"]
    assert wsk("action", "get", "hello", "--save").code == 1
    assert wsk("action", "get", "hello", "--save-as", "other.py").code == 0


def test_get_url_prints_the_rest_or_web_url(wsk, api):
    api.on("GET", f"{API}/actions/hello", ACTION)
    run = wsk("action", "get", "hello", "--url")
    assert run.code == 0
    assert run.out == f"ok: got action hello\n{api.url}/api/v1/namespaces/guest/actions/hello\n"
    packaged = dict(
        ACTION, namespace="guest/utils", annotations=[{"key": "web-export", "value": True}]
    )
    api.on("GET", f"{API}/actions/utils/hello", packaged)
    assert (
        wsk("action", "get", "utils/hello", "-r").out.splitlines()[1]
        == f"{api.url}/api/v1/web/guest/utils/hello"
    )
    api.on(
        "GET",
        f"{API}/actions/web",
        dict(ACTION, name="web", annotations=[{"key": "web-export", "value": True}]),
    )
    assert (
        wsk("action", "get", "web", "--url").out.splitlines()[1]
        == f"{api.url}/api/v1/web/guest/default/web"
    )


def test_create_copy_takes_the_source_action_and_lays_flags_over_it(wsk, api):
    api.on("GET", f"{API}/actions/hello", ACTION)
    api.on("PUT", f"{API}/actions/hello2", dict(ACTION, name="hello2"))
    run = wsk(
        "action",
        "create",
        "hello2",
        "hello",
        "--copy",
        "-m",
        "512",
        "-p",
        "name",
        "Copy",
        "-a",
        "note",
        "copied",
    )
    assert (run.code, run.out) == (0, "ok: created action hello2\n")
    req = api.last
    assert (req.method, req.path) == ("PUT", f"{API}/actions/hello2")
    assert req.body["exec"] == ACTION["exec"]
    assert req.body["limits"] == dict(ACTION["limits"], memory=512)
    assert req.body["parameters"] == [{"key": "name", "value": "Copy"}]
    assert {"key": "exec", "value": "python:3.11"} in req.body["annotations"]
    assert {"key": "note", "value": "copied"} in req.body["annotations"]
    # Nothing to copy, or code flags that contradict the copy: a clear error, no request.
    before = len(api.requests)
    bad = wsk("action", "create", "hello3", "--copy")
    assert bad.code != 0 and "--copy needs the name" in bad.err
    assert (
        "do not apply"
        in wsk("action", "create", "hello3", "hello", "--copy", "--kind", "python:3.11").err
    )
    assert len(api.requests) == before
    missing = wsk("action", "create", "hello3", "nope", "--copy")
    assert missing.code != 0 and "nope" in missing.err


def test_create_native_runs_the_file_on_the_skeleton_image(wsk, api, tmp_path):
    script = tmp_path / "exec"
    script.write_text("#!/bin/sh\necho '{\"ok\": true}'\n")
    api.on("PUT", f"{API}/actions/native", dict(ACTION, name="native"))
    assert wsk("action", "create", "native", str(script), "--native").code == 0
    assert api.last.body["exec"] == {
        "kind": "blackbox",
        "image": "tango/dockerskeleton",
        "binary": False,
        "code": script.read_text(),
    }
    assert (
        "cannot be combined"
        in wsk("action", "create", "n2", str(script), "--native", "--docker", "x/y").err
    )
    assert "needs a FILE" in wsk("action", "create", "n2", "--native").err


def test_list_table_and_query(wsk, api):
    api.on("GET", f"{API}/actions", [dict(ACTION, name="zeta"), ACTION])
    run = wsk("action", "list", "-n", "-l", "5", "-s", "2")
    assert api.last.query == {"limit": "5", "skip": "2"}
    lines = run.out.splitlines()
    assert lines[0] == "actions"
    assert lines[1].split() == ["/guest/hello", "private", "python:3.11"]
    assert lines[2].startswith("/guest/zeta")


def test_list_a_package_and_a_namespace(wsk, api):
    api.on("GET", f"{API}/actions/utils/", [])
    wsk("action", "list", "utils")
    assert api.last.path == f"{API}/actions/utils/" and api.last.query == {"limit": "30"}
    api.on("GET", "/api/v1/namespaces/other/actions", [])
    wsk("action", "list", "/other")
    assert api.last.path == "/api/v1/namespaces/other/actions"


def test_delete_qualified_name(wsk, api):
    api.on("DELETE", "/api/v1/namespaces/guest/actions/pkg/hello", ACTION)
    run = wsk("action", "delete", "/guest/pkg/hello")
    assert run.out == "ok: deleted action /guest/pkg/hello\n"


def test_names_with_spaces_are_quoted(wsk, api):
    api.on("DELETE", f"{API}/actions/my action", ACTION)
    assert wsk("action", "delete", "my action").code == 0
    assert api.last.path == f"{API}/actions/my action"


# ---- invoke -----------------------------------------------------------------------------------


def test_invoke_non_blocking(wsk, api):
    api.on("POST", f"{API}/actions/hello", {"activationId": "b" * 32}, status=202)
    run = wsk("action", "invoke", "hello", "-p", "name", "Tango", "-p", "n", "2")
    assert (run.code, run.out) == (0, f"ok: invoked /_/hello with id {'b' * 32}\n")
    assert (api.last.method, api.last.query, api.last.body) == (
        "POST",
        {},
        {"name": "Tango", "n": 2},
    )


def test_invoke_blocking_prints_the_record(wsk, api):
    api.on("POST", f"{API}/actions/hello", RECORD, headers={"x-openwhisk-activation-id": "a" * 32})
    run = wsk("action", "invoke", "hello", "-b")
    assert api.last.query == {"blocking": "true"}
    first, rest = run.out.split("\n", 1)
    assert first == f"ok: invoked /_/hello with id {'a' * 32}"
    assert json.loads(rest) == RECORD


def test_invoke_result_only_and_size_flags(wsk, api):
    api.on("POST", f"{API}/actions/hello", {"greeting": "hi"})
    run = wsk("action", "invoke", "hello", "-r", "--size-cpu", "1.5", "--size-memory", "512")
    assert api.last.query == {"blocking": "true", "result": "true", "cpu": "1.5", "memory": "512"}
    assert json.loads(run.out) == {"greeting": "hi"}


def test_invoke_blocking_that_did_not_finish(wsk, api):
    api.on("POST", f"{API}/actions/slow", {"activationId": "c" * 32}, status=202)
    run = wsk("action", "invoke", "slow", "-b")
    assert run.code == 202
    assert (
        run.out
        == f"ok: invoked /_/slow, but the request has not yet finished, with id {'c' * 32}\n"
    )


def test_invoke_application_error_prints_result_and_exits_246(wsk, api):
    api.on("POST", f"{API}/actions/bad", {"error": "boom"}, status=502)
    run = wsk("action", "invoke", "bad", "-r")
    assert run.code == 246
    assert json.loads(run.out) == {"error": "boom"}


def test_invoke_not_found(wsk, api):
    run = wsk("action", "invoke", "missing")
    assert run.code == 148
    assert run.err == (
        "error: Unable to invoke action 'missing': The requested resource does not exist. "
        "(code tid404)\n"
    )


def test_invoke_throttled_and_non_json_error(wsk, api):
    api.on(
        "POST",
        f"{API}/actions/hello",
        Reply(
            429,
            {
                "error": "Too many requests in the last minute (count: 61, allowed: 60).",
                "code": "t",
            },
        ),
        Reply(500, "upstream exploded"),
    )
    assert wsk("action", "invoke", "hello").code == 429 - 256
    run = wsk("action", "invoke", "hello")
    assert run.code == 500 - 256
    assert "Request failed (status code = 500)" in run.err
