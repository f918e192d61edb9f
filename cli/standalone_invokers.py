"""The standalone's invoker processes outlive a crashed controller: ``tango standalone`` records
them (pid, port, the internal token) in its data folder, and a restarted standalone on the same
port adopts those still alive instead of starting new ones, so the activations they were running
finish and reach the store (the invokers deliver results their controller did not take)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

RECORD = "invokers.json"


def alive(pid: int, invoker_id: str) -> bool:
    """Whether ``pid`` is an invoker process with id ``invoker_id``."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"invoker.server" in argv and invoker_id.encode() in argv


def adoptable(data_dir: Path, controller_url: str) -> tuple[str | None, dict[int, int]]:
    """The token and the live invokers (index → pid) a standalone of ``controller_url`` left."""
    try:
        rec = json.loads((data_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None, {}
    if rec.get("controller") != controller_url:
        return None, {}
    live = {
        int(i): int(pid)
        for i, pid in (rec.get("invokers") or {}).items()
        if alive(int(pid), f"invoker{i}")
    }
    return (rec.get("token") if live else None), live


def record(data_dir: Path, controller_url: str, token: str, pids: dict[int, int]) -> None:
    (data_dir / RECORD).write_text(
        json.dumps({"controller": controller_url, "token": token, "invokers": pids})
    )


def forget(data_dir: Path) -> None:
    (data_dir / RECORD).unlink(missing_ok=True)


class AdoptedInvoker:
    """An invoker process this standalone did not start: the part of ``Popen`` that stopping
    it needs."""

    def __init__(self, pid: int, invoker_id: str):
        self.pid, self.invoker_id = pid, invoker_id

    def poll(self) -> int | None:
        return None if alive(self.pid, self.invoker_id) else 0

    def send_signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.time() + (timeout if timeout is not None else 1e9)
        while self.poll() is None:
            if time.time() >= deadline:
                import subprocess

                raise subprocess.TimeoutExpired(f"invoker {self.pid}", timeout or 0)
            time.sleep(0.1)
        return 0
