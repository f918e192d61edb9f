"""Which store ``tango admin`` writes to, and the note a running standalone leaves for it.

``tango standalone`` records, per port, where its store lives (``~/.tango/standalones/PORT.json``
with its process id), so ``tango admin`` run later on this machine finds the store of the
platform the CLI points at (the API host of ``~/.wskprops`` or ``--apihost``) instead of a
default store that platform never reads. ``choose_store`` decides (pure, tested without a
platform); ``cli.services.admin`` says which store it used and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from controller.store.db import default_url


@dataclass(frozen=True)
class StandaloneRecord:
    """What a running ``tango standalone`` leaves behind: its port, process and store."""

    port: int
    pid: int
    db_url: str
    data_dir: str


@dataclass(frozen=True)
class StoreChoice:
    db_url: str
    reason: str  # for people: why this store (printed on stderr)


def records_dir() -> Path:
    return Path.home() / ".tango" / "standalones"


def record_standalone(port: int, db_url: str, data_dir: str) -> Path:
    """Called by ``tango standalone`` once its store is open; ``forget_standalone`` at exit."""
    folder = records_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{port}.json"
    record = {"port": port, "pid": os.getpid(), "dbUrl": db_url, "dataDir": data_dir}
    path.write_text(json.dumps(record) + "\n")
    return path


def forget_standalone(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def running_standalones() -> list[StandaloneRecord]:
    """The recorded standalones whose process is still alive."""
    found = []
    for path in sorted(records_dir().glob("*.json")):
        try:
            raw = json.loads(path.read_text())
            record = StandaloneRecord(
                int(raw["port"]), int(raw["pid"]), str(raw["dbUrl"]), str(raw["dataDir"])
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(record.pid):
            found.append(record)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def choose_store(
    db_url: str | None,
    data_dir: str | None,
    env: Mapping[str, str],
    apihost: str | None,
    standalones: Iterable[StandaloneRecord],
    default_data_dir: str,
) -> StoreChoice:
    """The store to manage, most explicit first: ``--db-url``, ``TANGO_DB_URL``, ``--data-dir``,
    ``TANGO_DATA_DIR``, then the running standalone that serves the CLI's API host on this
    machine, then the default data dir (where a standalone started without ``--data-dir``
    keeps its store)."""
    if db_url:
        return StoreChoice(db_url, "given by --db-url")
    if env.get("TANGO_DB_URL"):
        return StoreChoice(env["TANGO_DB_URL"], "given by TANGO_DB_URL")
    if data_dir:
        return StoreChoice(default_url(data_dir), "in the folder given by --data-dir")
    if env.get("TANGO_DATA_DIR"):
        return StoreChoice(default_url(env["TANGO_DATA_DIR"]), "in the folder TANGO_DATA_DIR names")
    port = local_port(apihost)
    for record in standalones:
        if record.port == port:
            return StoreChoice(
                record.db_url, f"of the standalone serving {apihost} (process {record.pid})"
            )
    return StoreChoice(
        default_url(default_data_dir),
        "the default standalone store"
        + (f" (no standalone on this machine serves {apihost})" if apihost else ""),
    )


def local_port(apihost: str | None) -> int | None:
    """The port of an API host on this machine (``http://localhost:3233`` → 3233), else None."""
    if not apihost:
        return None
    parts = urlsplit(apihost if "://" in apihost else "http://" + apihost)
    if parts.hostname not in LOCAL_HOSTS:
        return None
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
