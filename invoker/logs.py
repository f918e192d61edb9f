"""Activation log collection: docker json-file lines → OpenWhisk log lines.

`ContainerProxy.collect_logs` calls `collect()` after each `/run`. The runtime writes the
sentinel `XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX` to stdout and stderr after every activation;
we read from the container's remembered log offset until both sentinels were seen (or the log
stayed idle for `idle_timeout`), strip them, format each line as
`<RFC3339 timestamp, nanoseconds> <stream>: <text>` and enforce the action's logs limit with
OpenWhisk's own messages. `LogCollector` is pure: it only consumes the bytes it is fed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
MISSING_SENTINEL = "There was an issue while collecting your logs. Data might be missing."


def truncated_message(limit_bytes: int) -> str:
    return (
        f"Logs were truncated because the total bytes size exceeds the limit of "
        f"{limit_bytes} bytes."
    )


def format_time(docker_time: str) -> str:
    """Docker's RFC3339Nano drops trailing zeros; pad the fraction to 9 digits (30 chars)."""
    if not docker_time.endswith("Z"):
        return docker_time.ljust(30)
    head, _, frac = docker_time[:-1].partition(".")
    return f"{head}.{frac.ljust(9, '0')[:9]}Z"


@dataclass
class LogCollector:
    """Accumulates one activation's log lines from raw json-file bytes."""

    limit_bytes: int
    lines: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # streams whose sentinel arrived
    size: int = 0
    truncated: bool = False

    @property
    def done(self) -> bool:
        return {"stdout", "stderr"} <= self.seen

    def feed(self, data: bytes) -> None:
        for raw in data.splitlines():
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            self._add(entry.get("stream", "stdout"), entry.get("log", ""), entry.get("time", ""))

    def _add(self, stream: str, text: str, when: str) -> None:
        text = text.rstrip("\n")
        if text == SENTINEL:
            self.seen.add(stream)
            return
        if stream in self.seen or self.truncated:
            return  # after its sentinel a stream belongs to the next activation
        line = f"{format_time(when)} {stream}: {text}"
        size = len(line.encode())
        if self.size + size > self.limit_bytes:
            self.truncated = True
            return
        self.size += size
        self.lines.append(line)

    def result(self) -> list[str]:
        lines = list(self.lines)
        if self.truncated:
            lines.append(truncated_message(self.limit_bytes))
        if not self.done:
            lines.append(MISSING_SENTINEL)
        return lines


def collect(
    read: Callable[[int], tuple[bytes, int]],
    offset: int,
    limit_bytes: int,
    idle_timeout: float = 2.0,
) -> tuple[list[str], int]:
    """Read via `read(offset) -> (data, next_offset)` until both sentinels or idle timeout.

    Returns the formatted lines and the offset where the next activation's logs start.
    The runtime writes the sentinels before answering /run, so the usual wait is the engine's
    copy of the container's output into the log file: polls start at 0.2 ms and back off.
    """
    collector = LogCollector(limit_bytes)
    delay, idle_since = 0.0002, time.monotonic()
    while True:
        data, offset = read(offset)
        if data:
            collector.feed(data)
            if collector.done:
                return collector.result(), offset
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= idle_timeout:
            return collector.result(), offset
        else:
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
