"""OpenWhisk's activation status codes and their names, shared by the controller (which writes
records for activations it settles itself) and the invoker (which writes the rest).

The name is the `response.status` string of an activation record; the code is its
`response.statusCode` (see docs/contracts.md).
"""

from __future__ import annotations

from typing import Final

SUCCESS: Final = 0
APPLICATION_ERROR: Final = 1  # the action returned {"error": ...}
DEVELOPER_ERROR: Final = 2  # the action failed to initialize or run (bad code, timeout, OOM)
INTERNAL_ERROR: Final = 3  # the platform failed (no invoker, container start failed)

# Indexed by status code.
STATUS_NAMES: Final = (
    "success",
    "application error",
    "action developer error",
    "whisk internal error",
)
