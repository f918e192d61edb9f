"""Start a standalone Tango platform as a child process and wait until it is ready.

Used by the end-to-end tests and the benchmarks, which must drive the real platform (a
controller and invoker processes, SQLite, Docker) exactly as a user starts it.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
GUEST_KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PlatformProcess:
    apihost: str
    port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    internal_token: str = ""  # X-Tango-Internal of its controller and invokers

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def lift_throttles(p: PlatformProcess, namespace: str = "guest") -> None:
    """Raise a namespace's throttles for load tests (the standalone defaults would cap them)
    with ``tango admin limits set``; the controller sees it within its key-cache TTL."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "admin",
            "--data-dir",
            str(p.data_dir),
            "limits",
            "set",
            namespace,
            "--invocationsPerMinute",
            "1000000",
            "--concurrentInvocations",
            "100000",
        ],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    time.sleep(6)


def build_images() -> None:
    subprocess.run(
        ["bash", str(REPO / "docker" / "build-images.sh"), "python"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start(
    workdir: Path,
    invokers: int = 1,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 90,
    repo: Path = REPO,
    port: int | None = None,
) -> PlatformProcess:
    """``tango standalone`` on a free port with its store in ``workdir``; ready when every
    invoker reports healthy (``GET /invokers/ready``). ``repo``: whose code runs it (a
    benchmark's baseline runs an older commit's checkout); ``port``: the API port (default a
    free one; a restart passes the old one)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = workdir / "standalone.log"
    log = open(log_path, "a")  # a restart appends
    env = {"TANGO_INTERNAL_TOKEN": secrets.token_hex(16), **(env or {})}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "standalone",
            "--port",
            str(port),
            "--data-dir",
            str(workdir / "data"),
            "--no-build",
            "--invokers",
            str(invokers),
            *(extra or []),
        ],
        cwd=repo,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **env},
    )
    p = PlatformProcess(
        f"http://127.0.0.1:{port}",
        port,
        workdir / "data",
        log_path,
        proc,
        env["TANGO_INTERNAL_TOKEN"],
    )
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tango standalone exited early:\n{p.log()}")
        try:
            r = requests.get(p.apihost + "/invokers/ready", timeout=1)
            if (
                r.status_code == 200
                and len(requests.get(p.apihost + "/invokers", timeout=1).json()) == invokers
            ):
                return p
        except requests.RequestException:
            pass
        time.sleep(0.3)
    p.stop()
    raise RuntimeError(f"platform not ready in {timeout} s:\n{p.log()}")
