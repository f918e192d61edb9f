"""End-to-end fixtures: a real standalone platform (controller + invoker processes, SQLite,
Docker containers) started with ``tango standalone``, driven through the real ``tango`` CLI.
One platform serves the whole session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from common import platform_process
from common.platform_process import GUEST_KEY, REPO, PlatformProcess
from tests.conftest import docker_available, require


@dataclass
class Platform:
    process: PlatformProcess
    wskprops: Path
    auth: str = GUEST_KEY

    @property
    def apihost(self) -> str:
        return self.process.apihost

    def tango(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 120,
        auth: str | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Run the real CLI (``python -m cli``) against this platform."""
        env = {
            **os.environ,
            "WSK_CONFIG_FILE": str(self.wskprops),
            "TANGO_DATA_DIR": str(self.process.data_dir),
        }
        extra = ["--auth", auth] if auth else []
        cp = subprocess.run(
            [sys.executable, "-m", "cli", *extra, *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and cp.returncode != 0:
            raise AssertionError(
                f"tango {' '.join(args)} exited {cp.returncode}\nstdout: {cp.stdout}\n"
                f"stderr: {cp.stderr}"
            )
        return cp

    def tango_json(self, *args: str, **kw):
        return json.loads(self.tango("--json", *args, **kw).stdout)

    def in_new_namespace(self, prefix: str) -> Platform:
        """The same platform seen through the key of a fresh namespace (its own ~/.wskprops),
        so tests sharing the session's platform never see each other's entities."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        key = self.tango("admin", "user", "create", name).stdout.strip()
        other = Platform(self.process, self.wskprops.with_name(f"wskprops-{name}"), key)
        other.tango("property", "set", "--apihost", self.apihost, "--auth", key)
        return other

    def api(self, method: str, path: str, auth: str | None = None, **kw) -> requests.Response:
        user, _, key = (auth or self.auth).partition(":")
        return requests.request(method, self.apihost + path, auth=(user, key), timeout=120, **kw)


def start_platform(tmp: Path, invokers: int = 1, extra: list[str] | None = None) -> Platform:
    require(docker_available(), "a running Docker engine")
    platform_process.build_images()
    p = Platform(platform_process.start(tmp, invokers, extra=extra), tmp / "wskprops")
    p.tango("property", "set", "--apihost", p.apihost, "--auth", GUEST_KEY)
    return p


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    p = start_platform(tmp_path_factory.mktemp("platform"))
    yield p
    p.process.stop()
