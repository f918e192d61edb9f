"""The platform's wall clock: epoch milliseconds, the unit of every timestamp in activation
records, entities, heartbeats and workflow runs (OpenWhisk's `start`, `end`, `updated`).

Durations measured inside one process use `time.monotonic()` / `time.perf_counter()` instead;
this clock is for values that are stored or sent to another process.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    """Milliseconds since the epoch, as an integer."""
    return int(time.time() * 1000)
