"""Conformance of the Python runtime with OpenWhisk's /init + /run contract.

Mirrors OpenWhisk's BasicActionRunnerTests (docs/design.md section 7.3).
Every test runs twice through the ``start_proxy`` fixture: against the proxy as a local
process and against the real runtime image in a container (``docker`` marker).
"""

import base64
import io
import socket
import zipfile

from tests.runtimes.python.conftest import ProxyClient

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
IDENTITY = "def main(args):\n    return args\n"


def zip_action(files):
    """Base64 text of a zip holding ``files`` (name -> source), as the CLI sends it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_calls_without_the_container_secret_are_refused(start_proxy):
    """Tango's guard on OpenWhisk's contract: other containers reach this port too."""
    proxy = start_proxy()
    for presented in (None, "wrong", proxy.secret[:-1]):
        for path, body in (("/init", {"value": {"code": IDENTITY}}), ("/run", {"value": {}})):
            client = ProxyClient(proxy.port, secret=presented)  # a 403 closes the connection
            status, reply = client.post(path, body)
            client.close()
            assert status == 403, (path, presented, reply)
            assert "X-Tango-Container-Secret" in reply["error"]
    # A malformed request without the secret is refused the same way (nothing in the logs).
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: nine\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 403 ")
    assert proxy.init(IDENTITY) == (200, {"ok": True})  # the refused /init changed nothing
    assert proxy.run({"a": 1}) == (200, {"a": 1})
    assert "Traceback" not in proxy.logs("stderr", sentinels=1)


def test_identity_init_and_run(start_proxy):
    proxy = start_proxy()
    assert proxy.init(IDENTITY) == (200, {"ok": True})
    assert proxy.run({"a": 1, "b": [1, 2], "c": {"d": None}}) == (
        200,
        {"a": 1, "b": [1, 2], "c": {"d": None}},
    )
    assert proxy.run({}) == (200, {})


def test_array_result_is_accepted(start_proxy):
    proxy = start_proxy()
    proxy.init("def main(args):\n    return [args, 2]\n")
    assert proxy.run({"x": 1}) == (200, [{"x": 1}, 2])


def test_init_env_and_init_params_reach_the_action(start_proxy):
    proxy = start_proxy()
    code = (
        "import os\n"
        "def main(args):\n"
        "    return {k: os.environ.get(k) for k in ('SOME_VAR', 'COUNT', 'CONF')}\n"
    )
    status, _ = proxy.init(code, env={"SOME_VAR": "xyz", "COUNT": 5, "CONF": {"a": 1}})
    assert status == 200
    assert proxy.run({}) == (200, {"SOME_VAR": "xyz", "COUNT": "5", "CONF": '{"a": 1}'})


def test_activation_context_is_exported_as_ow_env_vars(start_proxy):
    proxy = start_proxy()
    names = [
        "__OW_ACTIVATION_ID",
        "__OW_NAMESPACE",
        "__OW_ACTION_NAME",
        "__OW_ACTION_VERSION",
        "__OW_DEADLINE",
        "__OW_TRANSACTION_ID",
        "__OW_API_KEY",
    ]
    proxy.init(
        f"import os\ndef main(args):\n    return {{k: os.environ.get(k) for k in {names!r}}}\n"
    )
    context = {
        "activation_id": "a" * 32,
        "namespace": "guest",
        "action_name": "/guest/hello",
        "action_version": "0.0.2",
        "deadline": "1723000060456",
        "transaction_id": "tid-1",
        "api_key": "uuid:key",
    }
    status, result = proxy.run({"name": "World"}, **context)
    assert status == 200
    assert result == {"__OW_" + k.upper(): v for k, v in context.items()}


def test_unicode_in_result_and_logs(start_proxy):
    proxy = start_proxy()
    proxy.init(
        "def main(args):\n"
        "    print(args['delimiter'] + ' ☃ ' + args['delimiter'])\n"
        "    return {'winter': args['delimiter'] + ' ☃ ' + args['delimiter']}\n"
    )
    assert proxy.run({"delimiter": "❄"}) == (200, {"winter": "❄ ☃ ❄"})
    assert "❄ ☃ ❄" in proxy.logs("stdout", sentinels=1)


def test_payload_larger_than_one_megabyte_round_trips(start_proxy):
    proxy = start_proxy()
    proxy.init(IDENTITY)
    big = "é" * (1 << 20)  # 2 MB as UTF-8
    status, result = proxy.run({"big": big})
    assert status == 200
    assert result["big"] == big


def test_entry_point_other_than_main(start_proxy):
    proxy = start_proxy()
    assert proxy.init("def niam(args):\n    return {'called': 'niam'}\n", main="niam")[0] == 200
    assert proxy.run({}) == (200, {"called": "niam"})


def test_second_init_is_refused(start_proxy):
    proxy = start_proxy()
    assert proxy.init(IDENTITY)[0] == 200
    assert proxy.init(IDENTITY) == (403, {"error": "Cannot initialize the action more than once."})
    assert proxy.run({"still": "works"}) == (200, {"still": "works"})


def test_scalar_and_none_results_are_invalid_responses(start_proxy):
    proxy = start_proxy()
    proxy.init("def main(args):\n    return args.get('result')\n")
    invalid = (502, {"error": "The action did not return a dictionary or array."})
    assert proxy.run({"result": 42}) == invalid
    assert proxy.run({"result": "a string"}) == invalid
    assert proxy.run({}) == invalid  # None
    assert proxy.run({"result": {"fine": True}}) == (200, {"fine": True})


def test_result_that_is_not_json_is_an_invalid_response(start_proxy):
    proxy = start_proxy()
    proxy.init("def main(args):\n    return {'value': object()}\n")
    status, body = proxy.run({})
    assert status == 502
    assert "did not produce a valid JSON response" in body["error"]
    assert "not JSON serializable" in body["error"]


def test_init_without_code_is_refused(start_proxy):
    proxy = start_proxy()
    assert proxy.init("") == (403, {"error": "Missing main/no code to execute."})


def test_zip_action_with_main_module_helpers_and_virtualenv(start_proxy):
    proxy = start_proxy()
    code = zip_action(
        {
            "__main__.py": "import helper, bundled\n"
            "def main(args):\n    return {'greeting': helper.greet(args['name']),\n"
            "            'bundled': bundled.VERSION}\n",
            "helper.py": "def greet(name):\n    return 'Hello ' + name\n",
            "virtualenv/lib/python3.11/site-packages/bundled.py": "VERSION = '1.2.3'\n",
        }
    )
    assert proxy.init(code, binary=True)[0] == 200
    assert proxy.run({"name": "zip"}) == (200, {"greeting": "Hello zip", "bundled": "1.2.3"})


def test_zip_without_main_module_fails_init(start_proxy):
    proxy = start_proxy()
    status, body = proxy.init(zip_action({"other.py": "x = 1\n"}), binary=True)
    assert status == 502
    assert "__main__.py" in body["error"]


def test_zip_with_an_entry_outside_the_action_folder_fails_init(start_proxy):
    proxy = start_proxy()
    code = zip_action({"__main__.py": "def main(a):\n    return a\n", "../escape.py": "x = 1\n"})
    status, body = proxy.init(code, binary=True)
    assert status == 502
    assert "outside the action's folder" in body["error"]


def test_binary_code_that_is_not_a_zip_fails_init(start_proxy):
    proxy = start_proxy()
    status, body = proxy.init(base64.b64encode(b"not a zip").decode(), binary=True)
    assert status == 502
    assert "base64-encoded zip" in body["error"]


def test_globals_persist_across_warm_runs(start_proxy):
    proxy = start_proxy()
    proxy.init(
        "count = 0\ndef main(args):\n    global count\n    count += 1\n"
        "    return {'count': count}\n"
    )
    assert [proxy.run({})[1]["count"] for _ in range(3)] == [1, 2, 3]


def test_sentinel_closes_each_activation_on_both_streams(start_proxy):
    proxy = start_proxy()
    proxy.init(
        "import sys\ndef main(args):\n    print('out', args['n'])\n"
        "    print('err', args['n'], file=sys.stderr)\n    return {}\n"
    )
    proxy.run({"n": 1})
    proxy.run({"n": 2})
    assert proxy.logs("stdout", sentinels=2).splitlines() == ["out 1", SENTINEL, "out 2", SENTINEL]
    assert proxy.logs("stderr", sentinels=2).splitlines() == ["err 1", SENTINEL, "err 2", SENTINEL]


def test_exception_becomes_error_result_with_traceback_in_logs(start_proxy):
    proxy = start_proxy()
    proxy.init("def main(args):\n    raise ValueError('boom ' + args['why'])\n")
    assert proxy.run({"why": "here"}) == (200, {"error": "boom here"})
    stderr = proxy.logs("stderr", sentinels=1)
    assert "Traceback" in stderr and "ValueError: boom here" in stderr
    assert proxy.run({"why": "again"}) == (200, {"error": "boom again"})


def test_syntax_error_is_reported_at_init(start_proxy):
    proxy = start_proxy()
    status, body = proxy.init("def main(args)\n    return args\n")
    assert status == 502
    assert "SyntaxError" in body["error"]
    assert "line 1" in body["error"]


def test_import_time_failure_and_missing_entry_point_fail_init(start_proxy):
    failing = start_proxy()
    status, body = failing.init("import no_such_module_xyz\ndef main(args):\n    return {}\n")
    assert status == 502
    assert "no_such_module_xyz" in body["error"]

    missing = start_proxy()
    status, body = missing.init(IDENTITY, main="handler")
    assert status == 502
    assert "handler" in body["error"]


def test_child_crash_is_reported_and_does_not_hang(start_proxy):
    proxy = start_proxy()
    proxy.init("import os\ndef main(args):\n    os._exit(3)\n")
    status, body = proxy.run({})
    assert status == 502
    assert "command exited" in body["error"] and "exit code 3" in body["error"]
    assert proxy.run({}) == (status, body)  # the proxy keeps answering, it does not hang


def test_run_before_init_and_bad_bodies(start_proxy):
    proxy = start_proxy()
    assert proxy.run({}) == (500, {"error": "no action defined yet"})
    status, body = proxy.client.post("/run", b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]
    status, body = proxy.client.post("/nowhere", {})
    assert status == 404 and "/init or /run" in body["error"]
    assert proxy.init(IDENTITY)[0] == 200  # the connection survived the errors (keep-alive)
