"""What every command module shares: the run context (settings, lazily built client, output
mode), turning API failures into wsk-style ``Unable to ...`` errors, and ``-p``/``-P``
parameter and ``-a``/``-A`` annotation parsing.

Called by the modules in ``cli.commands``; ``cli.main`` builds the ``Context``.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from cli import output
from cli.client import ApiError, Client
from cli.config import Settings
from cli.errors import EXIT_NOT_FINISHED, CliError, exit_code_for_status


def global_flags(connection: bool = True) -> argparse.ArgumentParser:
    """The flags every command accepts (a parent parser; defaults are SUPPRESS so a flag given
    before the command survives the subcommand's parse). ``connection=False`` leaves out
    ``-u/--auth``, ``--apihost`` and ``--apiversion`` for ``property get|unset``, where those
    names are switches."""
    flags = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = flags.add_argument_group("global flags")
    if connection:
        g.add_argument("-u", "--auth", metavar="KEY", help="authorization key UUID:KEY")
        g.add_argument("--apihost", metavar="HOST", help="API host, e.g. http://127.0.0.1:3233")
        g.add_argument("--apiversion", metavar="VERSION", help="API version (default v1)")
    g.add_argument("-i", "--insecure", action="store_true", help="do not verify the TLS certificate")
    g.add_argument("-v", "--verbose", action="store_true", help="print HTTP requests and responses (stderr)")
    g.add_argument("-d", "--debug", action="store_true", help="print tracebacks of unexpected failures")
    g.add_argument("--json", action="store_true", help="print the server's JSON instead of text")
    return flags


@dataclass
class Context:
    """One CLI run: resolved settings and output flags; the client is built on first use so
    commands that never talk to the controller (``property``, ``hints check``) need no auth."""

    settings: Settings
    json: bool = False
    verbose: bool = False
    debug: bool = False
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            if not self.settings.base_url:
                raise CliError("The API host is not valid: An API host must be provided. Set one with "
                               "'tango property set --apihost http://HOST:PORT' or --apihost.")
            if not self.settings.auth:
                raise CliError("Authorization key is not configured (--auth is required). Set one "
                               "with 'tango property set --auth UUID:KEY' or -u/--auth.")
            self._client = Client(self.settings.base_url, self.settings.auth,
                                  insecure=self.settings.insecure,
                                  trace=sys.stderr if self.verbose else None)
        return self._client


def done(ctx: Context, body: Any, message: str) -> None:
    """Finish a command that changed something: ``ok: <message>``, or the server's JSON."""
    if ctx.json:
        output.emit(output.pretty(body))
    else:
        output.ok(message)


def report_invocation(ctx: Context, what: str, id_text: str, status: int, body: Any,
                      blocking: bool, result_only: bool) -> int:
    """Print an invoke answer (action or workflow) the way wsk does; return the exit code.

    202 without blocking is the normal asynchronous answer; 202 on a blocking call means the
    controller stopped waiting (exit 202); 502 means the action failed: its record or result is
    printed like a success and the exit code is 502 - 256 = 246, as in wsk.
    """
    if status == 202:
        if ctx.json:
            output.emit(output.pretty(body))
        elif blocking:
            output.ok(f"invoked {what}, but the request has not yet finished, with {id_text}")
        else:
            output.ok(f"invoked {what} with {id_text}")
        return EXIT_NOT_FINISHED if blocking else 0
    if not (result_only or ctx.json):
        output.ok(f"invoked {what} with {id_text}")
    output.emit(output.pretty(body))
    return exit_code_for_status(status) if status >= 400 else 0


@contextmanager
def failing(what: str) -> Iterator[None]:
    """Turn an ``ApiError`` into ``Unable to <what>: <server error> (code <tid>)`` with wsk's
    exit code; an unreachable platform keeps its own message (no prefix needed to act on it)."""
    try:
        yield
    except ApiError as err:
        if err.status is None:
            raise CliError(str(err), exit_code_for_status(None)) from err
        raise CliError(f"Unable to {what}: {err}", exit_code_for_status(err.status)) from err


# ---- parameters and annotations -------------------------------------------------------------

def add_param_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"),
                        default=[], help="parameter; VALUE is parsed as JSON when valid, else a string")
    parser.add_argument("-P", "--param-file", metavar="FILE",
                        help="JSON file with an object of parameters")


def add_annotation_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--annotation", nargs=2, action="append", metavar=("KEY", "VALUE"),
                        default=[], help="annotation; VALUE is parsed as JSON when valid, else a string")
    parser.add_argument("-A", "--annotation-file", metavar="FILE",
                        help="JSON file with an object of annotations")


def parse_value(text: str) -> Any:
    """``-p n 3`` binds the number 3, ``-p x '{"a":1}'`` an object, ``-p s hello`` a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def key_values(pairs: list[list[str]], file: str | None, flag: str) -> dict[str, Any]:
    """Merge a ``-P``-style JSON file with ``-p``-style pairs (pairs win, as in wsk)."""
    values: dict[str, Any] = read_json_object(file, flag) if file else {}
    for key, value in pairs:
        values[key] = parse_value(value)
    return values


def params_of(args: argparse.Namespace) -> dict[str, Any]:
    return key_values(args.param, args.param_file, "--param-file")


def annotations_of(args: argparse.Namespace) -> dict[str, Any]:
    return key_values(args.annotation, args.annotation_file, "--annotation-file")


def as_key_value_list(values: dict[str, Any]) -> list[dict[str, Any]]:
    """OpenWhisk's entity form of parameters/annotations: ``[{"key", "value"}]``."""
    return [{"key": k, "value": v} for k, v in values.items()]


def read_json_object(path: str, flag: str) -> dict[str, Any]:
    text = read_text(path, flag)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{flag} {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                       f"{exc.msg}); expected a JSON object such as {{\"name\": \"World\"}}.") from exc
    if not isinstance(value, dict):
        raise CliError(f"{flag} {path}: expected a JSON object such as {{\"name\": \"World\"}}, "
                       f"got a JSON {type(value).__name__}.")
    return value


def read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{what} {path}: cannot read the file ({exc.strerror or exc}).") from exc


def add_paging_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """wsk's ``-l/--limit`` (default 30; the server caps it at 200) and ``-s/--skip``."""
    parser.add_argument("-l", "--limit", type=non_negative_int, default=30,
                        help=f"list at most this many {what} (default 30, max 200)")
    parser.add_argument("-s", "--skip", type=non_negative_int, default=0, help=f"skip this many {what}")


def non_negative_int(text: str) -> int:
    """argparse type for counts and limits."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be 0 or more")
    return value
