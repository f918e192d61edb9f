"""The wsk-compatibility table of the README, produced by running each row.

Every row is a wsk command and flag run through the real ``tango`` CLI against a running
platform; "yes" means the run did what wsk's does (the check beside the row), "no" that it did
not. The README's table (between the ``wsk-compat`` markers) must equal what this test finds;
``TANGO_WRITE_COMPAT_TABLE=1`` rewrites it from the runs instead of failing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from common.platform_process import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]

README = REPO / "README.md"
START, END = "<!-- wsk-compat:start -->", "<!-- wsk-compat:end -->"
HELLO = "def main(args):\n    print('hi', args.get('name'))\n    return {'greeting': 'Hello ' + args.get('name', 'World')}\n"


class Runner:
    """Runs rows in one namespace; ``ok`` is a run that exits 0 and (optionally) prints
    something matching ``expect``."""

    def __init__(self, ns, tmp: Path):
        self.ns, self.tmp = ns, tmp
        self.hello = tmp / "hello.py"
        self.hello.write_text(HELLO)
        (tmp / "params.json").write_text('{"name": "File"}')
        (tmp / "ann.json").write_text('{"note": "from a file"}')

    def run(self, *args: str):
        return self.ns.tango(*args, check=False)

    def ok(self, *args: str, expect: str | None = None) -> bool:
        cp = self.run(*args)
        return cp.returncode == 0 and (expect is None or re.search(expect, cp.stdout) is not None)

    def json(self, *args: str):
        cp = self.run("--json", *args)
        return json.loads(cp.stdout) if cp.returncode == 0 else None

    def ann(self, name: str) -> dict:
        action = self.json("action", "get", name) or {}
        return {a["key"]: a["value"] for a in action.get("annotations", [])}


def rows() -> list[tuple[str, str, Callable[[Runner], bool]]]:
    h = lambda r: str(r.hello)  # noqa: E731
    return [
        ("action create", "NAME FILE", lambda r: r.ok("action", "create", "a1", h(r))),
        (
            "action create",
            "flags anywhere (NAME -t MS FILE)",
            lambda r: r.ok("action", "create", "a2", "-t", "1000", h(r)),
        ),
        (
            "action create",
            "--kind, --main",
            lambda r: r.ok("action", "create", "a3", h(r), "--kind", "python:3", "--main", "main"),
        ),
        (
            "action create",
            "-t -m -l -c (limits)",
            lambda r: (
                r.ok("action", "create", "a4", h(r), "-t", "900", "-m", "256", "-l", "1", "-c", "1")
                and (r.json("action", "get", "a4") or {}).get("limits", {}).get("timeout") == 900
            ),
        ),
        (
            "action create",
            "-p, -P (parameters, file)",
            lambda r: (
                r.ok("action", "create", "a5", h(r), "-P", str(r.tmp / "params.json"))
                and r.ok("action", "invoke", "a5", "-r", expect="Hello File")
            ),
        ),
        (
            "action create",
            "-a, -A (annotations, file)",
            lambda r: (
                r.ok("action", "create", "a6", h(r), "-A", str(r.tmp / "ann.json"))
                and r.ann("a6").get("note") == "from a file"
            ),
        ),
        (
            "action create",
            "--web true|raw, --web-secure",
            lambda r: (
                r.ok("action", "create", "w1", h(r), "--web", "true", "--web-secure", "s")
                and r.ann("w1").get("require-whisk-auth") == "s"
            ),
        ),
        (
            "action update",
            "--web-secure keeps --web",
            lambda r: (
                r.ok("action", "update", "w1", "--web-secure", "t")
                and r.ann("w1").get("web-export") is True
            ),
        ),
        (
            "action create",
            "--sequence A,B",
            lambda r: (
                r.ok("action", "create", "s1", "--sequence", "a1,a1")
                and r.ok("action", "invoke", "s1", "-r", expect="Hello")
            ),
        ),
        (
            "action create",
            "--copy SOURCE",
            lambda r: (
                r.ok("action", "create", "c1", "--copy", "a5")
                and r.ok("action", "invoke", "c1", "-r", expect="Hello File")
            ),
        ),
        (
            "action create",
            "--kind nodejs:20 (JavaScript)",
            lambda r: r.ok("action", "create", "js", h(r), "--kind", "nodejs:20"),
        ),
        (
            "action get",
            "-s, --url, FIELD, --save-as",
            lambda r: (
                r.ok("action", "get", "a1", "-s", expect="action /")
                and r.ok("action", "get", "w1", "--url", expect="/web/")
                and r.ok("action", "get", "a1", "exec")
                and r.ok("action", "get", "a1", "--save-as", str(r.tmp / "saved.py"))
            ),
        ),
        (
            "action list",
            "[NAMESPACE], -l, -s, -n",
            lambda r: r.ok("action", "list", "-n", "-l", "5"),
        ),
        (
            "action list",
            "PACKAGE",
            lambda r: (
                r.ok("package", "create", "p1")
                and r.ok("action", "create", "p1/x", h(r))
                and r.ok("action", "list", "p1", expect="/p1/x")
            ),
        ),
        (
            "action invoke",
            "-b, -r, -p, -P",
            lambda r: (
                r.ok("action", "invoke", "a1", "-r", "-p", "name", "R", expect="Hello R")
                and r.ok("action", "invoke", "a1", "-b", expect="activationId")
                and r.ok("action", "invoke", "a1", "-r", "-P", str(r.tmp / "params.json"))
            ),
        ),
        ("action delete", "NAME", lambda r: r.ok("action", "delete", "a2")),
        (
            "activation list",
            "[ACTION], -l, -s, -f",
            lambda r: r.ok("activation", "list", "a1", "-l", "2", "-s", "1", "-f"),
        ),
        (
            "activation get",
            "ID, --last, -s, FIELD",
            lambda r: (
                r.ok("activation", "get", "--last", "-s", expect="activation result")
                and r.ok("activation", "get", "--last", "response")
            ),
        ),
        (
            "activation logs / result",
            "ID, --last, -r (strip)",
            lambda r: (
                r.ok("activation", "logs", "--last", "-r")
                and r.ok("activation", "result", "--last")
            ),
        ),
        (
            "activation poll",
            "[ACTION], -e SECONDS, --since-*",
            lambda r: r.ok(
                "activation",
                "poll",
                "a1",
                "-e",
                "1",
                "--since-minutes",
                "5",
                expect="Activation: 'a1'",
            ),
        ),
        (
            "package create / update / get / list / delete",
            "-p, -a, --shared",
            lambda r: (
                r.ok("package", "create", "p2", "-p", "k", "v", "--shared", "yes")
                and r.ok("package", "update", "p2", "-p", "k", "w")
                and r.ok("package", "get", "p2", "-s")
                and r.ok("package", "list")
                and r.ok("package", "delete", "p2")
            ),
        ),
        (
            "package bind",
            "PACKAGE NAME -p (binding parameters win)",
            lambda r: (
                r.ok("package", "create", "p3", "-p", "who", "pkg")
                and r.ok("action", "create", "p3/e", h(r))
                and r.ok("package", "bind", "p3", "b3", "-p", "name", "Bound")
                and r.ok("action", "invoke", "b3/e", "-r", expect="Hello Bound")
            ),
        ),
        (
            "package bind",
            "/whisk.system/utils (echo, cat, sort, head, split...)",
            lambda r: (
                r.ok("package", "bind", "/whisk.system/utils", "u")
                and r.ok("action", "invoke", "u/echo", "-r", "-p", "q", "1", expect='"q": 1')
            ),
        ),
        ("package refresh", "", lambda r: r.ok("package", "refresh")),
        (
            "trigger create",
            "--feed /whisk.system/alarms/*, -F, -T, -p",
            lambda r: r.ok(
                "trigger",
                "create",
                "t1",
                "--feed",
                "/whisk.system/alarms/interval",
                "-F",
                "minutes",
                "60",
                "-T",
                "who",
                "me",
            ),
        ),
        (
            "trigger fire / get / list / delete",
            "-p",
            lambda r: (
                r.ok("trigger", "create", "t2")
                and r.ok("trigger", "fire", "t2", "-p", "x", "1")
                and r.ok("trigger", "get", "t2")
                and r.ok("trigger", "list")
                and r.ok("trigger", "delete", "t2")
            ),
        ),
        (
            "rule create / enable / disable / status / get / list / delete",
            "",
            lambda r: (
                r.ok("trigger", "create", "t3")
                and r.ok("rule", "create", "r3", "t3", "a1")
                and r.ok("rule", "disable", "r3")
                and r.ok("rule", "enable", "r3")
                and r.ok("rule", "status", "r3", expect="active")
                and r.ok("rule", "get", "r3")
                and r.ok("rule", "list")
                and r.ok("rule", "delete", "r3")
            ),
        ),
        (
            "namespace list / get",
            "",
            lambda r: r.ok("namespace", "list") and r.ok("namespace", "get"),
        ),
        (
            "property get",
            "--apihost --auth --namespace --apibuild --apibuildno --cliversion",
            lambda r: r.ok(
                "property",
                "get",
                "--apihost",
                "--auth",
                "--namespace",
                "--apibuild",
                "--apibuildno",
                "--cliversion",
            ),
        ),
        ("property get", "-o raw", lambda r: r.ok("property", "get", "--apibuildno", "-o", "raw")),
        (
            "api create",
            "BASE_PATH API_PATH VERB ACTION --response-type",
            lambda r: _api_route_answers(r),
        ),
        (
            "api create",
            "API_PATH with {path} parameters",
            lambda r: r.ok("api", "create", "/c", "/i/{id}", "get", "w1"),
        ),
        (
            "api create",
            "--config-file SWAGGER",
            lambda r: r.ok("api", "get", "/c") and _swagger_import(r),
        ),
        (
            "api list / get / delete",
            "[BASE_PATH [API_PATH [VERB]]]",
            lambda r: r.ok("api", "list") and r.ok("api", "delete", "/c"),
        ),
        (
            "project deploy / undeploy",
            "-m manifest.yaml, --deployment, ${ENV}",
            lambda r: _project(r),
        ),
        ("project export / sync", "", lambda r: r.ok("project", "export", "-m", "x.yaml")),
        ("sdk install", "", lambda r: r.ok("sdk", "install", "docker")),
        (
            "global flags",
            "-u, --apihost, -v, -d, --json (before or after the command)",
            lambda r: (
                r.ok("-v", "--apihost", r.ns.apihost, "namespace", "list", "-u", r.ns.auth)
                and r.ok("namespace", "list", "-d", "--json")
            ),
        ),
    ]


def _api_route_answers(r: Runner) -> bool:
    r.ok("action", "update", "w1", "--web-secure", "false")
    cp = r.run("api", "create", "/c", "/hello", "get", "w1", "--response-type", "json")
    if cp.returncode != 0:
        return False
    url = cp.stdout.strip().splitlines()[-1]
    return requests.get(url, params={"name": "Api"}, timeout=60).json() == {"greeting": "Hello Api"}


def _swagger_import(r: Runner) -> bool:
    cp = r.run("--json", "api", "get", "/c")
    swagger = json.loads(cp.stdout) if cp.returncode == 0 else {}
    swagger.update(basePath="/d", info={"title": "D", "version": "1"})
    (r.tmp / "d.json").write_text(json.dumps(swagger))
    return r.ok("api", "create", "--config-file", str(r.tmp / "d.json"), expect="/d/") and r.ok(
        "api", "delete", "/d"
    )


def _project(r: Runner) -> bool:
    (r.tmp / "m.yaml").write_text(
        "packages:\n  proj:\n    actions:\n      hi:\n        function: hello.py\n"
        "        inputs:\n          name: ${COMPAT_NAME}\n"
    )
    os.environ["COMPAT_NAME"] = "Manifest"
    try:
        return (
            r.ok("project", "deploy", "-m", str(r.tmp / "m.yaml"))
            and r.ok("action", "invoke", "proj/hi", "-r", expect="Hello Manifest")
            and r.ok("project", "undeploy", "-m", str(r.tmp / "m.yaml"))
        )
    finally:
        del os.environ["COMPAT_NAME"]


def render(results: list[tuple[str, str, bool]]) -> str:
    def cell(text: str) -> str:
        return f"`{text}`".replace("|", "\\|") if text else ""

    lines = ["| wsk command | flags / arguments | supported |", "| --- | --- | --- |"]
    lines += [
        f"| {cell(cmd)} | {cell(flags)} | {'yes' if ok else 'no'} |" for cmd, flags, ok in results
    ]
    return "\n".join(lines)


def test_readme_wsk_compatibility_table(platform, tmp_path):
    runner = Runner(platform.in_new_namespace("compat"), tmp_path)
    results = [(cmd, flags, bool(check(runner))) for cmd, flags, check in rows()]
    table = render(results)
    text = README.read_text()
    assert START in text and END in text, f"README.md lacks the {START} ... {END} markers"
    head, rest = text.split(START, 1)
    current, tail = rest.split(END, 1)
    if os.environ.get("TANGO_WRITE_COMPAT_TABLE") == "1":
        README.write_text(f"{head}{START}\n{table}\n{END}{tail}")
        return
    assert current.strip() == table, (
        "The README's wsk-compatibility table differs from what the runs found; rerun this "
        f"test with TANGO_WRITE_COMPAT_TABLE=1 to rewrite it. Found:\n{table}"
    )
