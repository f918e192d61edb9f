"""The ``tango`` command: a wsk-compatible client plus the commands that start Tango's services.

Entry point ``cli.main:main`` (``tango`` console script, ``python -m cli``). This module builds
the argparse tree from the ``cli.commands`` modules, resolves settings (``cli.config``), runs
the chosen handler and turns every failure into ``error: ...`` on stderr and a non-zero exit
code (see ``cli.errors``). ``standalone``, ``controller``, ``invoker`` and ``admin`` hand their
arguments unparsed to ``cli.services``, imported only then so client commands need no server
dependencies.

Global flags (``-u/--auth``, ``--apihost``, ``--apiversion``, ``-i``, ``-v``, ``-d``, ``--json``)
are accepted before or after the command, as in wsk.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from cli import config
from cli.commands import (
    action,
    activation,
    api,
    hints,
    namespace,
    package,
    project,
    rule,
    trigger,
    workflow,
)
from cli.commands import property as property_cmd
from cli.commands.common import Context, global_flags
from cli.errors import EXIT_GENERAL, EXIT_USAGE, CliError

COMMAND_MODULES = (
    property_cmd,
    action,
    activation,
    namespace,
    package,
    trigger,
    rule,
    workflow,
    hints,
    api,
    project,
)
SERVICE_COMMANDS = {
    "standalone": "run controller, one invoker and the store in one process",
    "controller": "run the controller (REST API)",
    "invoker": "run an invoker on this host",
    "admin": "manage users and namespace limits (admin user create|list, admin limits set)",
}
# Global flags and their values when not given (the subparsers' copies default to SUPPRESS so
# a flag given before the command is not reset by the subcommand's parser).
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe
GLOBAL_DEFAULTS = {
    "auth": None,
    "apihost": None,
    "apiversion": None,
    "cert": None,
    "key": None,
    "insecure": False,
    "verbose": False,
    "debug": False,
    "json": False,
}


class TangoParser(argparse.ArgumentParser):
    """argparse with wsk-style errors: ``error: ...``, a close-match hint, and where to get help."""

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """A command's own parser (one without subcommands) takes its flags anywhere, before,
        between or after its positional arguments, as wsk does (``action create h2 -t 1000
        hello.py``), and reports left-over arguments with its own usage, not the top level's."""
        if self._intermixing or any(
            isinstance(a, argparse._SubParsersAction) for a in self._actions
        ):
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            parsed, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = _suggestion(message, self)
        self.print_usage(sys.stderr)
        print(f"error: {message}{hint}\nRun '{self.prog} --help' for usage.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _suggestion(message: str, parser: argparse.ArgumentParser) -> str:
    """`` (did you mean 'list'?)`` for a mistyped subcommand."""
    if "invalid choice" not in message:
        return ""
    typed = message.split("'")[1] if message.count("'") >= 2 else ""
    choices = [
        c for a in parser._actions if isinstance(a, argparse._SubParsersAction) for c in a.choices
    ]
    close = difflib.get_close_matches(typed, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def build_parser() -> TangoParser:
    common = global_flags()
    parser = TangoParser(
        prog="tango",
        parents=[common],
        description="Tango: an OpenWhisk-compatible serverless platform (wsk-style client).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=TangoParser)
    for module in COMMAND_MODULES:
        module.register(sub, common)
    for name, summary in SERVICE_COMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SERVICE_COMMANDS:
        return run_service(argv[0], argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2, already printed)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0 if not argv else EXIT_USAGE
    for key, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    ctx = Context(
        settings=config.resolve(
            {
                "APIHOST": args.apihost,
                "AUTH": args.auth,
                "APIVERSION": args.apiversion,
                "CERT": args.cert,
                "KEY": args.key,
            },
            insecure=args.insecure,
        ),
        json=args.json,
        verbose=args.verbose,
        debug=args.debug,
    )
    return run_handler(args, ctx)


def run_handler(args: argparse.Namespace, ctx: Context) -> int:
    try:
        return args.handler(args, ctx) or 0
    except CliError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `tango ... | head`: the reader left; exit quietly like other tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug in the CLI: say so briefly, full trace with -d
        if ctx.debug:
            traceback.print_exc()
        print(
            f"error: the tango CLI failed unexpectedly: {exc!r} (run with -d for the traceback)",
            file=sys.stderr,
        )
        return EXIT_GENERAL


def run_service(name: str, argv: list[str]) -> int:
    """``tango standalone ...`` etc.: delegate to ``cli.services.<name>(argv)``."""
    try:
        services = importlib.import_module("cli.services")
    except ImportError as exc:
        print(
            f"error: 'tango {name}' needs the server parts of Tango, which failed to import: {exc}. "
            "Install Tango with its dependencies (pip install -e .).",
            file=sys.stderr,
        )
        return EXIT_GENERAL
    result = getattr(services, name)(argv)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
