"""The host's processes as the benchmarks see them, from ``/proc``: who is whose child, what a
process runs, and how much CPU it has used. Used by the benchmarks that split CPU by
component (``profile_invoke``, ``invoker_scaling``) or kill one process of a platform
(``invoker_failover``), and by end-to-end tests that do the same."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` after the command name (field 3 on), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def argv(pid: int) -> list[str]:
    """A process's command line, or [] once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def children_of(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (fields := _stat(int(d.name))) and int(fields[1]) == pid:
            out.append(int(d.name))
    return out


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(children_of(p))
    return pids


def invoker_children(parent: int) -> dict[str, int]:
    """The ``invoker.server`` processes a standalone started: invoker id -> pid."""
    out = {}
    for pid in children_of(parent):
        args = argv(pid)
        if "invoker.server" in args and "--id" in args[:-1]:
            out[args[args.index("--id") + 1]] = pid
    return out


def cpu_seconds(pids: list[int], waited_children: bool = False) -> float:
    """CPU seconds (user + system) the processes have used so far; with ``waited_children``
    also what their children that ended and were waited for used. Gone ones count 0."""
    last = 15 if waited_children else 13  # utime stime [cutime cstime]
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += sum(int(x) for x in fields[11:last])
    return total / TICK
