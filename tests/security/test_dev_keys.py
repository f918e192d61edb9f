"""Finding 3: ``tango controller`` must not install OpenWhisk's publicly known keys. A real
controller process on a fresh SQLite store, asked over HTTP on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time

import requests

from common.platform_process import REPO, free_port
from controller.config import GUEST_KEY, SYSTEM_KEY


def wait_ready(url: str, proc: subprocess.Popen, log) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        assert proc.poll() is None, f"tango controller exited:\n{log.read_text()}"
        try:
            if requests.get(url + "/ping", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"tango controller not ready:\n{log.read_text()}")


def test_3_tango_controller_serves_only_keys_an_operator_created(tmp_path):
    port, data = free_port(), tmp_path / "data"
    log = tmp_path / "controller.log"
    cli = [sys.executable, "-m", "cli"]
    created = subprocess.run(
        [*cli, "admin", "--data-dir", str(data), "user", "create", "alice"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    proc = subprocess.Popen(
        [*cli, "controller", "--port", str(port), "--data-dir", str(data)],
        cwd=REPO,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc, log)
        for key in (GUEST_KEY, SYSTEM_KEY):
            user, _, secret = key.partition(":")
            for ns in ("_", "guest", "whisk.system", "alice"):
                r = requests.get(
                    f"{url}/api/v1/namespaces/{ns}/actions", auth=(user, secret), timeout=10
                )
                assert r.status_code == 401, (key[:8], ns, r.status_code)
        user, _, secret = created.partition(":")
        r = requests.get(f"{url}/api/v1/namespaces/_/actions", auth=(user, secret), timeout=10)
        assert r.status_code == 200 and r.json() == []
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_controller_started_with_sigint_ignored_still_stops_on_sigterm(tmp_path):
    """nohup and background jobs of scripts start a process with SIGINT ignored; the drain that
    SIGTERM starts ends by interrupting the main thread, which must still stop the server."""
    import signal

    port, data, log = free_port(), tmp_path / "data", tmp_path / "controller.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "controller", "--port", str(port), "--data-dir", str(data)],
        cwd=REPO,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, log)
        proc.terminate()
        assert proc.wait(30) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
