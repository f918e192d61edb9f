"""The platform core end to end: the real ``tango`` CLI against a running standalone platform
with real Docker containers (issue: platform core)."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from common.platform_process import GUEST_KEY

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def platform(platform):
    """These tests run in a namespace of their own on the session's platform."""
    return platform.in_new_namespace("core")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_deploy_invoke_and_read_the_activation(platform, tmp_path):
    src = write(
        tmp_path,
        "hello.py",
        "def main(args):\n    print('greeting', args.get('name'))\n"
        "    return {'greeting': 'Hello ' + args.get('name', 'World')}\n",
    )
    out = platform.tango("action", "create", "hello", src).stdout
    assert "ok: created action hello" in out
    assert json.loads(
        platform.tango("action", "invoke", "hello", "-r", "-p", "name", "Tango").stdout
    ) == {"greeting": "Hello Tango"}
    out = platform.tango("action", "invoke", "hello", "-b", "-p", "name", "Ada").stdout
    assert out.startswith("ok: invoked /_/hello with id ")
    record = json.loads(out.split("\n", 1)[1])
    ann = {a["key"]: a["value"] for a in record["annotations"]}
    assert record["response"]["result"] == {"greeting": "Hello Ada"}
    assert ann["kind"] == "python:3.11" and ann["path"].endswith("/hello")
    assert ann["usage"]["cpuTime"] >= 0 and ann["usage"]["maxMemory"] > 0
    assert ann["size"]["memory"] == 256
    aid = record["activationId"]
    assert any("stdout: greeting Ada" in line for line in record["logs"])
    assert "greeting Ada" in platform.tango("activation", "logs", aid).stdout
    assert json.loads(platform.tango("activation", "result", aid).stdout)["greeting"] == "Hello Ada"
    listed = platform.tango("activation", "list", "hello").stdout
    assert aid in listed and "/hello" in listed
    got = platform.tango_json("activation", "get", aid)
    assert got["activationId"] == aid and got["end"] >= got["start"]
    # non-blocking invoke, then poll for the record
    out = platform.tango("action", "invoke", "hello").stdout
    aid2 = out.strip().rsplit(" ", 1)[-1]
    for _ in range(100):
        cp = platform.tango("activation", "get", aid2, check=False)
        if cp.returncode == 0 and '"running"' not in cp.stdout:
            break
        time.sleep(0.1)
    assert json.loads(cp.stdout.split("\n", 1)[1])["response"]["success"] is True


def test_update_bumps_version_and_never_reuses_old_code(platform, tmp_path):
    platform.tango(
        "action", "create", "ver", write(tmp_path, "v1.py", "def main(a):\n    return {'v': 1}\n")
    )
    assert json.loads(platform.tango("action", "invoke", "ver", "-r").stdout) == {"v": 1}
    platform.tango(
        "action",
        "update",
        "ver",
        write(tmp_path, "v2.py", "def main(a):\n    return {'v': 2}\n"),
        "--memory",
        "384",
        "--timeout",
        "5000",
    )
    doc = platform.tango_json("action", "get", "ver")
    assert (
        doc["version"] == "0.0.2"
        and doc["limits"]["memory"] == 384
        and doc["limits"]["timeout"] == 5000
    )
    assert json.loads(platform.tango("action", "invoke", "ver", "-r").stdout) == {"v": 2}


def test_parameters_main_zip_and_globals(platform, tmp_path):
    src = write(
        tmp_path,
        "m.py",
        "COUNT = 0\ndef entry(args):\n    global COUNT\n    COUNT += 1\n"
        "    return {'count': COUNT, **args}\n",
    )
    params = write(tmp_path, "p.json", json.dumps({"fromfile": [1, 2]}))
    platform.tango(
        "action", "create", "counter", src, "--main", "entry", "-p", "fixed", "1", "-P", params
    )
    first = json.loads(
        platform.tango("action", "invoke", "counter", "-r", "-p", "x", '{"y": true}').stdout
    )
    second = json.loads(platform.tango("action", "invoke", "counter", "-r").stdout)
    assert first["fixed"] == 1 and first["fromfile"] == [1, 2] and first["x"] == {"y": True}
    assert second["count"] == first["count"] + 1  # the same warm container, globals persist
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "__main__.py",
            "from helper import shout\ndef main(a):\n    return {'out': shout(a['s'])}\n",
        )
        z.writestr("helper.py", "def shout(s):\n    return s.upper() + '!'\n")
    zpath = tmp_path / "act.zip"
    zpath.write_bytes(buf.getvalue())
    platform.tango("action", "create", "zipped", str(zpath), "--kind", "python:3")
    assert json.loads(
        platform.tango("action", "invoke", "zipped", "-r", "-p", "s", "hé").stdout
    ) == {"out": "HÉ!"}


def test_sequence_through_cli(platform, tmp_path):
    platform.tango(
        "action",
        "create",
        "inc",
        write(tmp_path, "inc.py", "def main(a):\n    return {'n': a.get('n', 0) + 1}\n"),
    )
    platform.tango("action", "create", "twice", "--sequence", "inc,inc")
    out = platform.tango("action", "invoke", "twice", "-b", "-p", "n", "5").stdout
    record = json.loads(out.split("\n", 1)[1])
    assert record["response"]["result"] == {"n": 7} and len(record["logs"]) == 2
    child = platform.tango_json("activation", "get", record["logs"][0])
    assert child["cause"] == record["activationId"]


def test_errors_are_records_with_openwhisk_statuses(platform, tmp_path):
    platform.tango(
        "action",
        "create",
        "apperr",
        write(tmp_path, "e.py", "def main(a):\n    return {'error': 'bad input'}\n"),
    )
    cp = platform.tango("action", "invoke", "apperr", "-r", check=False)
    assert cp.returncode != 0 and json.loads(cp.stdout) == {"error": "bad input"}
    platform.tango(
        "action",
        "create",
        "crash",
        write(tmp_path, "c.py", "def main(a):\n    raise ValueError('kaput')\n"),
    )
    rec = platform.api("POST", "/api/v1/namespaces/_/actions/crash?blocking=true", json={})
    assert rec.status_code == 502 and "kaput" in rec.json()["response"]["result"]["error"]
    platform.tango(
        "action",
        "create",
        "sleepy",
        write(tmp_path, "s.py", "import time\ndef main(a):\n    time.sleep(5)\n    return {}\n"),
        "--timeout",
        "500",
    )
    rec = platform.api("POST", "/api/v1/namespaces/_/actions/sleepy?blocking=true", json={}).json()
    assert rec["response"]["status"] == "action developer error"
    assert "exceeded its time limits of 500 milliseconds" in rec["response"]["result"]["error"]
    assert {"key": "timeout", "value": True} in rec["annotations"]
    platform.tango(
        "action",
        "create",
        "hog",
        write(
            tmp_path,
            "h.py",
            "def main(a):\n    x = bytearray(400 * 1024 * 1024)\n    return {'n': len(x)}\n",
        ),
        "--memory",
        "128",
    )
    rec = platform.api("POST", "/api/v1/namespaces/_/actions/hog?blocking=true", json={}).json()
    assert rec["response"]["result"]["error"] == "The action exhausted its memory and was aborted."
    cp = platform.tango(
        "action", "create", "bad", write(tmp_path, "b.py", "x"), "--memory", "4096", check=False
    )
    assert cp.returncode != 0 and "exceeds allowed threshold of 512 MB" in cp.stderr
    cp = platform.tango("action", "get", "does-not-exist", check=False)
    assert cp.returncode != 0 and "The requested resource does not exist." in cp.stderr


def test_size_binding_is_applied_in_place(platform, tmp_path):
    code = (
        "def main(a):\n    q = open('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').read().strip()\n"
        "    p = open('/sys/fs/cgroup/cpu/cpu.cfs_period_us').read().strip()\n"
        "    m = open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read().strip()\n"
        "    return {'quota': int(q), 'period': int(p), 'mem': int(m)}\n"
    )
    platform.tango("action", "create", "cg", write(tmp_path, "cg.py", code))
    platform.tango("action", "invoke", "cg", "-r")
    for cpu, mem in ((1.5, 384), (0.5, 200)):
        out = platform.tango(
            "action", "invoke", "cg", "-b", "--size-cpu", str(cpu), "--size-memory", str(mem)
        ).stdout
        rec = json.loads(out.split("\n", 1)[1])
        res = rec["response"]["result"]
        ann = {a["key"]: a["value"] for a in rec["annotations"]}
        assert res["quota"] / res["period"] == pytest.approx(cpu)
        assert res["mem"] == mem * 1024 * 1024
        assert ann["size"]["cpu"] == cpu and ann["size"]["memory"] == mem
        assert ann["startKind"] == "warm" and ann["resizeTime"] >= 0


def test_namespaces_keys_and_isolation(platform, tmp_path):
    carol = f"carol-{platform.auth[:4]}"
    key = platform.tango("admin", "user", "create", carol).stdout.strip()
    assert len(key.split(":")[0]) == 36
    assert platform.tango("namespace", "list", auth=key).stdout.split()[-1] == carol
    platform.tango(
        "action",
        "create",
        "mine",
        write(tmp_path, "x.py", "def main(a):\n    return {}\n"),
        auth=key,
    )
    assert "mine" not in platform.tango("action", "list").stdout
    assert "mine" not in platform.tango("action", "list", auth=GUEST_KEY).stdout
    r = platform.api("GET", f"/api/v1/namespaces/{carol}/actions/mine")
    assert r.status_code == 403 and set(r.json()) == {"error", "code"}


def test_cli_usage_and_connection_errors(platform, tmp_path):
    cp = platform.tango("action", "frobnicate", check=False)
    assert cp.returncode == 2
    cp = platform.tango("--apihost", "http://127.0.0.1:1", "action", "list", check=False)
    assert cp.returncode != 0 and "127.0.0.1:1" in cp.stderr


def test_docker_skeleton_blackbox_action(platform, tmp_path):
    """--docker IMAGE runs a blackbox action in that image through the same protocol."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("exec")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\necho '{\"blackbox\": true}'\n")
    zpath = tmp_path / "bb.zip"
    zpath.write_bytes(buf.getvalue())
    platform.tango("action", "create", "bb", str(zpath), "--docker", "tango/dockerskeleton")
    assert json.loads(platform.tango("action", "invoke", "bb", "-r").stdout) == {"blackbox": True}
    platform.tango(
        "action", "create", "nat", str(zpath), "--native"
    )  # wsk's shorthand for the same
    assert json.loads(platform.tango("action", "invoke", "nat", "-r").stdout) == {"blackbox": True}


def test_copy_an_action_and_print_its_url(platform, tmp_path):
    platform.tango(
        "action",
        "create",
        "orig",
        write(tmp_path, "o.py", "def main(a):\n    return {'n': a['n']}\n"),
        "-p",
        "n",
        "1",
        "-m",
        "300",
    )
    platform.tango("action", "create", "twin", "orig", "--copy", "-p", "n", "2")
    twin = platform.tango_json("action", "get", "twin")
    assert twin["limits"]["memory"] == 300 and twin["parameters"] == [{"key": "n", "value": 2}]
    assert json.loads(platform.tango("action", "invoke", "twin", "-r").stdout) == {"n": 2}
    assert json.loads(platform.tango("action", "invoke", "orig", "-r").stdout) == {"n": 1}
    url = platform.tango("action", "get", "twin", "--url").stdout.splitlines()[1]
    assert url.startswith(platform.apihost) and url.endswith(
        f"/api/v1/namespaces/{twin['namespace']}/actions/twin"
    )


def test_unicode_and_large_payload(platform, tmp_path):
    platform.tango(
        "action", "create", "echo", write(tmp_path, "echo.py", "def main(a):\n    return a\n")
    )
    big = "x" * 900_000
    r = platform.api(
        "POST",
        "/api/v1/namespaces/_/actions/echo?blocking=true&result=true",
        json={"s": "☃ naïve 日本", "big": big},
    )
    assert (
        r.status_code == 200 and r.json()["s"] == "☃ naïve 日本" and len(r.json()["big"]) == 900_000
    )
    r = platform.api(
        "POST",
        "/api/v1/namespaces/_/actions/echo?blocking=true",
        data=json.dumps({"big": "y" * 1_200_000}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_openwhisk_client_compatibility_raw_rest(platform):
    """What wsk and the JS client call first: discovery, namespaces, limits, with the dev key."""
    info = platform.api("GET", "/").json()
    assert info["description"] == "OpenWhisk" and "python" in info["runtimes"]
    assert platform.api("GET", "/api/v1/namespaces", auth=GUEST_KEY).json() == ["guest"]
    lim = platform.api("GET", "/api/v1/namespaces/_/limits").json()
    assert lim["maxActionMemory"] == 512 * 1048576
