"""wsk habits that broke (issue 18), each through the real ``tango`` CLI against a running
platform: flags anywhere, running activations, ``action list PACKAGE``, ``--web-secure`` on an
update, ``tango admin`` against the running platform's store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from common.platform_process import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def ns(platform):
    return platform.in_new_namespace("wskdef")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


HELLO = "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'World')}\n"


def test_flags_between_the_name_and_the_file(ns, tmp_path):
    hello = write(tmp_path, "hello.py", HELLO)
    ns.tango("action", "create", "h2", "-t", "1000", hello)
    ns.tango("action", "create", "h3", "--kind", "python:3.11", hello, "-p", "name", "Ada")
    ns.tango("action", "create", "h4", "--web", "true", hello)
    ns.tango("action", "create", "cpy", "--copy", "h3")
    assert ns.tango_json("action", "get", "h2")["limits"]["timeout"] == 1000
    assert json.loads(ns.tango("action", "invoke", "cpy", "-r").stdout) == {"greeting": "Hello Ada"}
    web = {a["key"]: a["value"] for a in ns.tango_json("action", "get", "h4")["annotations"]}
    assert web["web-export"] is True
    # a usage error shows the subcommand's usage, not the top level's
    cp = ns.tango("action", "create", "h5", hello, "surplus", check=False)
    assert cp.returncode == 2
    assert "usage: tango action create" in cp.stderr
    assert "unrecognized arguments: surplus" in cp.stderr


SLOW = (
    "import time\n"
    "def main(args):\n"
    "    print('first line', flush=True)\n"
    "    time.sleep(args.get('seconds', 4))\n"
    "    print('last line', flush=True)\n"
    "    return {'done': True}\n"
)


def test_a_running_activation_can_be_fetched_and_polled(ns, tmp_path):
    ns.tango("action", "create", "slow", write(tmp_path, "slow.py", SLOW))
    ns.tango("action", "invoke", "slow", "-r", "-p", "seconds", "0")  # warm, so the next runs now
    env = {**os.environ, "WSK_CONFIG_FILE": str(ns.wskprops)}
    poller = subprocess.Popen(
        [sys.executable, "-m", "cli", "activation", "poll", "slow", "--exit", "20"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # the poller has listed once: the next activation is new to it
        out = ns.tango("action", "invoke", "slow", "-p", "seconds", "6").stdout
        aid = out.strip().rsplit(" ", 1)[-1]
        record = ns.tango_json("activation", "get", aid)
        assert record["activationId"] == aid and record["response"]["status"] == "running"
        summary = ns.tango("activation", "get", "--last", "-s").stdout
        assert summary.startswith("activation result for") and "(running at" in summary
        assert "running" in ns.tango("activation", "list", "slow").stdout.splitlines()[1]
        polled, _ = poller.communicate(timeout=60)
    finally:
        if poller.poll() is None:
            poller.kill()
    # printed once it finished, with the logs that came meanwhile
    assert f"({aid})" in polled
    after = polled.split(f"({aid})", 1)[1]
    assert "first line" in after and "last line" in after
    assert json.loads(ns.tango("activation", "result", aid).stdout) == {"done": True}


def test_action_list_of_a_package(ns, tmp_path):
    ns.tango("package", "create", "tools")
    ns.tango("action", "create", "tools/hello", write(tmp_path, "hello.py", HELLO))
    listed = ns.tango("action", "list", "tools").stdout
    assert listed.splitlines()[0] == "actions"
    assert "/tools/hello" in listed
    assert [a["name"] for a in ns.tango_json("action", "list", "tools")] == ["hello"]


def test_update_web_secure_keeps_the_web_action(ns, tmp_path):
    ns.tango("action", "create", "site", write(tmp_path, "site.py", HELLO), "--web", "true")
    ns.tango("action", "update", "site", "--web-secure", "s3cret")
    annotations = {
        a["key"]: a["value"] for a in ns.tango_json("action", "get", "site")["annotations"]
    }
    assert annotations["web-export"] is True and annotations["require-whisk-auth"] == "s3cret"
    url = ns.tango("action", "get", "site", "--url").stdout.splitlines()[1] + ".json"
    assert requests.get(url, timeout=60).status_code == 401
    r = requests.get(url, headers={"X-Require-Whisk-Auth": "s3cret"}, timeout=60)
    assert r.status_code == 200 and r.json() == {"greeting": "Hello World"}


def test_admin_writes_to_the_store_of_the_platform_the_cli_points_at(platform, tmp_path):
    """No TANGO_DATA_DIR, no --data-dir: the CLI's API host names the running standalone, whose
    data dir is not the default one; the key made must be one that platform accepts."""
    env = {k: v for k, v in os.environ.items() if k not in ("TANGO_DATA_DIR", "TANGO_DB_URL")}
    env["WSK_CONFIG_FILE"] = str(platform.wskprops)
    name = f"alice-{os.getpid()}-{time.time_ns() % 100000}"

    def admin(*args):
        return subprocess.run(
            [sys.executable, "-m", "cli", "admin", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    made = admin("user", "create", name)
    assert f"store sqlite:///{platform.process.data_dir.resolve()}" in made.stderr
    assert f"of the standalone serving {platform.apihost}" in made.stderr
    key = made.stdout.strip()
    user, _, secret = key.partition(":")
    r = requests.get(f"{platform.apihost}/api/v1/namespaces", auth=(user, secret), timeout=60)
    assert r.status_code == 200 and r.json() == [name]
    # --data-dir after the subcommand names another store, which does not have that namespace
    listed = admin("user", "list", "--data-dir", str(tmp_path / "other")).stdout
    assert (
        name not in listed
        and "--data-dir" in admin("user", "list", "--data-dir", str(tmp_path)).stderr
    )
    assert name in admin("user", "list").stdout
