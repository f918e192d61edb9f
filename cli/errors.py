"""The one error the CLI's commands raise to stop with a message and an exit code.

``cli.main`` catches it, prints ``error: <message>`` to stderr and exits with ``exit_code``.
Exit codes follow wsk: 1 general, 2 usage, 3 network, and for an HTTP error response the
status minus 256 (404 -> 148, 409 -> 153, 502 -> 246), 202 for a blocking call that did not
finish in time.
"""

from __future__ import annotations

EXIT_GENERAL = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_NOT_FINISHED = 202


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_GENERAL):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def exit_code_for_status(status: int | None) -> int:
    """wsk's exit code for an HTTP status (None: no response at all)."""
    if status is None:
        return EXIT_NETWORK
    if status >= 256:
        return status - 256
    return EXIT_GENERAL
