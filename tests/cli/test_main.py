"""The top level: parsing of every command, global flags, usage errors, connection errors,
verbose tracing, and hand-off of the service commands to cli.services."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

from cli.commands.common import Context
from cli.config import Settings
from cli.main import build_parser, run_handler
from tests.cli.conftest import API, GUEST_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]
# argv -> attributes the parsed namespace must have
PARSES = [
    (["property", "set", "--apihost", "h"], {"apihost": "h"}),
    (
        ["property", "get", "--auth", "--namespace"],
        {"show_auth": True, "show_namespace": True, "show_all": False},
    ),
    (["property", "unset", "--apiversion"], {"unset_apiversion": True, "unset_auth": False}),
    (
        [
            "action",
            "create",
            "a",
            "f.py",
            "--kind",
            "python:3.11",
            "-m",
            "128",
            "-t",
            "100",
            "-l",
            "1",
            "-c",
            "1",
        ],
        {
            "name": "a",
            "file": "f.py",
            "kind": "python:3.11",
            "memory": 128,
            "timeout": 100,
            "logsize": 1,
            "concurrency": 1,
        },
    ),
    (
        ["action", "update", "a", "--del-annotation", "x", "-a", "k", "v", "-A", "f"],
        {"del_annotation": ["x"], "annotation": [["k", "v"]], "annotation_file": "f"},
    ),
    (
        ["action", "get", "a", "exec", "-s", "--save-as", "x"],
        {"field": "exec", "summary": True, "save_as": "x"},
    ),
    (
        ["action", "list", "pkg", "-l", "5", "-s", "1", "-n"],
        {"scope": "pkg", "limit": 5, "skip": 1, "name_sort": True},
    ),
    (["action", "delete", "a"], {"name": "a"}),
    (
        [
            "action",
            "invoke",
            "a",
            "-p",
            "k",
            "1",
            "-P",
            "f",
            "-b",
            "-r",
            "--size-cpu",
            "0.5",
            "--size-memory",
            "64",
        ],
        {
            "param": [["k", "1"]],
            "param_file": "f",
            "blocking": True,
            "result": True,
            "size_cpu": 0.5,
            "size_memory": 64,
        },
    ),
    (
        ["activation", "list", "a", "-l", "3", "-s", "1", "-f", "--since", "1", "--upto", "2"],
        {"name": "a", "limit": 3, "skip": 1, "full": True, "since": 1, "upto": 2},
    ),
    (
        ["activation", "get", "--last", "logs", "-s", "-g"],
        {"last": True, "words": ["logs"], "summary": True, "logs": True},
    ),
    (["activation", "logs", "id", "-r"], {"words": ["id"], "strip": True}),
    (["activation", "result", "-l"], {"last": True}),
    (
        ["activation", "poll", "a", "-e", "5", "--since-hours", "2"],
        {"target": "a", "exit": 5, "since_hours": 2},
    ),
    (["namespace", "list"], {"subcommand": "list"}),
    (["namespace", "get", "ns"], {"namespace": "ns"}),
    (["list"], {"namespace": None}),
    (["workflow", "create", "w", "w.yaml"], {"name": "w", "file": "w.yaml"}),
    (["workflow", "update", "w", "w.yaml"], {"name": "w"}),
    (["workflow", "get", "w"], {"name": "w"}),
    (["workflow", "list", "-l", "2"], {"limit": 2}),
    (["workflow", "delete", "w"], {"name": "w"}),
    (
        ["workflow", "invoke", "w", "-p", "k", "v", "-b", "--policy", "late"],
        {"policy": "late", "blocking": True},
    ),
    (["workflow", "runs", "w", "-s", "3"], {"skip": 3}),
    (["workflow", "run-get", "r1"], {"run_id": "r1"}),
    (["workflow", "report", "w"], {"name": "w"}),
    (["hints", "check", "h", "--workflow", "w.yaml"], {"file": "h", "workflow": "w.yaml"}),
    (["hints", "set", "w", "h"], {"workflow": "w", "file": "h"}),
    (["hints", "get", "w"], {"workflow": "w"}),
    (
        ["hints", "profile", "w", "--inputs", "i.jsonl", "--options", "a,b", "--repeats", "2"],
        {"inputs": "i.jsonl", "options": "a,b", "repeats": 2},
    ),
    (
        ["hints", "synthesize", "w", "--percentile", "95", "-o", "out"],
        {"percentile": 95.0, "output": "out"},
    ),
]


@pytest.mark.parametrize("argv, expected", PARSES, ids=[" ".join(a[:2]) for a, _ in PARSES])
def test_every_command_parses(argv, expected):
    args = build_parser().parse_args(argv)
    assert callable(args.handler)
    for key, value in expected.items():
        assert getattr(args, key) == value, key


def test_global_flags_work_before_and_after_the_command():
    before = build_parser().parse_args(["-v", "--apihost", "h", "action", "list"])
    after = build_parser().parse_args(["action", "list", "--json", "-u", "k", "-i", "-d"])
    assert (before.verbose, before.apihost) == (True, "h")
    assert (after.json, after.auth, after.insecure, after.debug) == (True, "k", True, True)


def test_unknown_command_suggests_the_closest(tango):
    run = tango("actoin", "list")
    assert run.code == 2
    assert "(did you mean 'action'?)" in run.err and "Run 'tango --help' for usage." in run.err


def test_unknown_flag_is_a_usage_error(tango):
    run = tango("action", "list", "--bogus")
    assert run.code == 2 and "unrecognized arguments: --bogus" in run.err


def test_missing_subcommand_and_bad_number(tango):
    assert tango("action").code == 2
    run = tango("action", "list", "-l", "many")
    assert run.code == 2 and "'many' is not a whole number" in run.err


def test_no_arguments_prints_help(tango):
    run = tango()
    assert run.code == 0 and "usage: tango" in run.out


def test_missing_api_host_and_auth(tango, props_file):
    run = tango("action", "list")
    assert run.code == 1 and run.err.startswith(
        "error: The API host is not valid: An API host must be provided."
    )
    props_file.write_text("APIHOST=http://127.0.0.1:9\n")
    run = tango("action", "list")
    assert run.code == 1 and run.err.startswith(
        "error: Authorization key is not configured (--auth is required)"
    )


def test_unreachable_host_exits_3_with_a_hint(tango):
    run = tango("--apihost", "http://127.0.0.1:9", "-u", "a:b", "action", "invoke", "x")
    assert run.code == 3
    assert (
        run.err
        == "error: Unable to connect to http://127.0.0.1:9: is the platform running? (tango standalone)\n"
    )


def test_https_to_a_plain_http_server_suggests_the_scheme(api, tango):
    host = api.url.removeprefix("http://")  # wsk rule: no scheme means https
    run = tango("--apihost", host, "-u", "a:b", "action", "list")
    assert run.code == 3 and "http:// scheme" in run.err


def test_flags_override_environment_and_apiversion_is_used(api, wsk):
    api.on("GET", "/api/v2/namespaces/_/actions", [])
    assert wsk("--apiversion", "v2", "-u", "x:y", "action", "list").code == 0
    assert (api.last.path, api.last.auth) == ("/api/v2/namespaces/_/actions", "x:y")


def test_verbose_traces_request_and_response_on_stderr_without_the_key(api, wsk):
    api.on("GET", f"{API}/actions", [])
    run = wsk("-v", "action", "list")
    assert run.out == "actions\n"
    assert f"[GET]\t{api.url}{API}/actions?limit=30" in run.err
    assert "RESPONSE:Got response with code 200" in run.err
    assert GUEST_KEY.split(":")[1] not in run.err


def test_services_get_the_remaining_argv(tango, monkeypatch):
    calls = []
    fake = types.ModuleType("cli.services")
    for name in ("standalone", "controller", "invoker", "admin"):
        setattr(fake, name, lambda argv, name=name: calls.append((name, argv)) or 7)
    monkeypatch.setitem(sys.modules, "cli.services", fake)
    assert tango("standalone", "--port", "3233", "--data-dir", "/d").code == 7
    assert tango("admin", "user", "create", "alice").code == 7
    assert calls == [
        ("standalone", ["--port", "3233", "--data-dir", "/d"]),
        ("admin", ["user", "create", "alice"]),
    ]


def test_an_unexpected_failure_is_reported_not_raised(capsys):
    args = build_parser().parse_args(["namespace", "list"])
    args.handler = lambda a, c: 1 / 0
    assert run_handler(args, Context(Settings(None, None))) == 1
    assert "failed unexpectedly: ZeroDivisionError" in capsys.readouterr().err


def test_python_dash_m_cli_runs_the_same_command(tmp_path):
    env = {"WSK_CONFIG_FILE": str(tmp_path / "p"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "property", "set", "--apihost", "http://h:1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0 and done.stdout == "ok: whisk API host set to http://h:1\n"
    assert (tmp_path / "p").read_text() == "APIHOST=http://h:1\n"
