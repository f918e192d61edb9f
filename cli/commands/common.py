"""What every command module shares: the run context (settings, lazily built client, output
mode), turning API failures into wsk-style ``Unable to ...`` errors, ``-p``/``-P`` parameter
and ``-a``/``-A`` annotation parsing, and the verbs every entity collection has alike
(``create|update``, ``get NAME [-s]``, ``list [NAMESPACE]``, ``delete NAME``).

Called by the modules in ``cli.commands``; ``cli.main`` builds the ``Context``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cli import output
from cli.client import ApiError, Client, Response
from cli.config import Settings
from cli.errors import EXIT_NOT_FINISHED, CliError, exit_code_for_status
from cli.names import QualifiedName, parse_name

NameParser = Callable[[str], QualifiedName]


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
        g.add_argument("--cert", metavar="FILE", help="client TLS certificate (PEM)")
        g.add_argument("--key", metavar="FILE", help="client TLS private key (PEM)")
    g.add_argument(
        "-i", "--insecure", action="store_true", help="do not verify the TLS certificate"
    )
    g.add_argument(
        "-v", "--verbose", action="store_true", help="print HTTP requests and responses (stderr)"
    )
    g.add_argument(
        "-d", "--debug", action="store_true", help="print tracebacks of unexpected failures"
    )
    g.add_argument("--json", action="store_true", help="print the server's JSON instead of text")
    return flags


def client_cert(cert: str | None, key: str | None) -> str | tuple[str, str] | None:
    """What the HTTP client presents as its TLS certificate: the certificate file, or the pair
    (certificate, key); files that are not there are an error before anything is sent."""
    if key and not cert:
        raise CliError(
            "A client key (--key) was given without its certificate: give --cert FILE too "
            "(or 'tango property set --cert FILE')."
        )
    if not cert:
        return None
    cert = tls_file(cert, "--cert")
    return (cert, tls_file(key, "--key")) if key else cert


def tls_file(path: str, flag: str) -> str:
    """A client certificate or key file given by `flag`, as an absolute path; an error if missing."""
    found = Path(path).expanduser()
    if not found.is_file():
        raise CliError(f"The client TLS file given by {flag} does not exist: {path}")
    return str(found.resolve())


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
                raise CliError(
                    "The API host is not valid: An API host must be provided. Set one with "
                    "'tango property set --apihost http://HOST:PORT' or --apihost."
                )
            if not self.settings.auth:
                raise CliError(
                    "Authorization key is not configured (--auth is required). Set one "
                    "with 'tango property set --auth UUID:KEY' or -u/--auth."
                )
            self._client = Client(
                self.settings.base_url,
                self.settings.auth,
                insecure=self.settings.insecure,
                cert=client_cert(self.settings.cert, self.settings.key),
                trace=sys.stderr if self.verbose else None,
            )
        return self._client


def done(ctx: Context, body: Any, message: str) -> None:
    """Finish a command that changed something: ``ok: <message>``, or the server's JSON."""
    if ctx.json:
        output.emit(output.pretty(body))
    else:
        output.ok(message)


def show(ctx: Context, entity: Any, message: str) -> None:
    """Finish a command that read something: ``ok: got ...`` then the entity's JSON (just the
    JSON with ``--json``)."""
    if not ctx.json:
        output.ok(message)
    output.emit(output.pretty(entity))


@dataclass(frozen=True)
class InvocationId:
    """Where an invoke answer names what it started: a header, else a field of the body."""

    label: str  # how the message names it ("id", "run id")
    header: str
    field: str


ACTIVATION_ID = InvocationId("id", "x-openwhisk-activation-id", "activationId")
RUN_ID = InvocationId("run id", "x-tango-run-id", "runId")


def report_invocation(
    ctx: Context,
    what: str,
    response: Response,
    started: InvocationId,
    blocking: bool,
    result_only: bool,
) -> int:
    """Print an invoke answer (action or workflow) the way wsk does; return the exit code.

    202 without blocking is the normal asynchronous answer; 202 on a blocking call means the
    controller stopped waiting (exit 202); 502 means the action failed: its record or result is
    printed like a success and the exit code is 502 - 256 = 246, as in wsk.
    """
    status, body = response.status, response.body
    ident = response.headers.get(started.header) or (
        body.get(started.field) if isinstance(body, dict) else None
    )
    id_text = f"{started.label} {ident}"
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


def _add_key_value_flags(
    parser: argparse.ArgumentParser, letter: str, flag: str, noun: str
) -> None:
    """``-x KEY VALUE`` (repeatable) and ``-X FILE`` (a JSON object) for one kind of key/value."""
    parser.add_argument(
        f"-{letter}",
        f"--{flag}",
        nargs=2,
        action="append",
        metavar=("KEY", "VALUE"),
        default=[],
        help=f"{noun}; VALUE is parsed as JSON when valid, else a string",
    )
    parser.add_argument(
        f"-{letter.upper()}",
        f"--{flag}-file",
        metavar="FILE",
        help=f"JSON file with an object of {noun}s",
    )


def add_param_flags(parser: argparse.ArgumentParser) -> None:
    _add_key_value_flags(parser, "p", "param", "parameter")


def add_annotation_flags(parser: argparse.ArgumentParser) -> None:
    _add_key_value_flags(parser, "a", "annotation", "annotation")


def add_invoke_flags(parser: argparse.ArgumentParser, wait_for: str) -> None:
    """The flags of every invoke: parameters, ``-b`` (wait for ``wait_for``) and ``-r``."""
    add_param_flags(parser)
    parser.add_argument("-b", "--blocking", action="store_true", help=f"wait for {wait_for}")
    parser.add_argument(
        "-r", "--result", action="store_true", help="print only the result (implies -b)"
    )


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


def key_value_fields(params: dict[str, Any], annotations: dict[str, Any]) -> dict[str, Any]:
    """The ``parameters`` and ``annotations`` of an entity body, each only when given."""
    fields = {"parameters": params, "annotations": annotations}
    return {name: as_key_value_list(values) for name, values in fields.items() if values}


def read_json_object(path: str, flag: str) -> dict[str, Any]:
    text = read_text(path, flag)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{flag} {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f'{exc.msg}); expected a JSON object such as {{"name": "World"}}.'
        ) from exc
    if not isinstance(value, dict):
        raise CliError(
            f'{flag} {path}: expected a JSON object such as {{"name": "World"}}, '
            f"got a JSON {type(value).__name__}."
        )
    return value


def read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{what} {path}: cannot read the file ({exc.strerror or exc}).") from exc


def add_paging_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """wsk's ``-l/--limit`` (default 30; the server caps it at 200) and ``-s/--skip``."""
    parser.add_argument(
        "-l",
        "--limit",
        type=non_negative_int,
        default=30,
        help=f"list at most this many {what} (default 30, max 200)",
    )
    parser.add_argument(
        "-s", "--skip", type=non_negative_int, default=0, help=f"skip this many {what}"
    )


def non_negative_int(text: str) -> int:
    """argparse type for counts and limits."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be 0 or more")
    return value


# ---- the verbs every entity collection has --------------------------------------------------


def add_get_list_delete(
    verbs: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    what: str,
    collection: str,
    get: Callable,
    list_: Callable,
    delete: Callable,
    list_scope: tuple[str, str] = ("namespace", "NAMESPACE"),
    list_help: str | None = None,
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser]:
    """Register ``get NAME [-s]``, ``list [NAMESPACE] [-l N] [-s N] [-n]`` and ``delete NAME``
    for one collection (``what`` is "a package", "an action"; ``list_scope`` is the dest and
    metavar of list's optional argument); the three parsers come back so a command can add its
    own flags (``delete --force``, ``get FIELD``)."""
    get_p = verbs.add_parser("get", parents=[common], help=f"get {what}")
    get_p.add_argument("name", metavar="NAME")
    get_p.add_argument("-s", "--summary", action="store_true", help="print a summary")
    get_p.set_defaults(handler=get)

    list_p = verbs.add_parser("list", parents=[common], help=f"list {collection}")
    list_p.add_argument(list_scope[0], metavar=list_scope[1], nargs="?", help=list_help)
    add_paging_flags(list_p, collection)
    list_p.add_argument("-n", "--name-sort", action="store_true", help="sort by name")
    list_p.set_defaults(handler=list_)

    delete_p = verbs.add_parser("delete", parents=[common], help=f"delete {what}")
    delete_p.add_argument("name", metavar="NAME")
    delete_p.set_defaults(handler=delete)
    return get_p, list_p, delete_p


def top_level_name(text: str, kind: str, why: str) -> QualifiedName:
    """``NAME`` or ``/NAMESPACE/NAME`` for a ``kind`` that cannot live in a package (packages,
    triggers, rules); ``why`` says so in the error."""
    qname = parse_name(text)
    if qname.package is not None:
        raise CliError(f"'{text}' is not a valid {kind} name: {why} (use NAME or /NAMESPACE/NAME).")
    return qname


def entity_request(
    ctx: Context,
    method: str,
    collection: str,
    qname: QualifiedName,
    query: dict | None = None,
    body: Any = None,
    accept: Iterable[int] = (200,),
) -> Response:
    """One request on ``/namespaces/{ns}/{collection}/{name}``."""
    path = f"/namespaces/{quote(qname.namespace, safe='')}/{collection}/{quote(qname.entity, safe='/')}"
    return ctx.client().request(method, path, query, body, accept=accept)


def put_entity(
    args: argparse.Namespace,
    ctx: Context,
    collection: str,
    name_parser: NameParser,
    build_body: Callable[[argparse.Namespace], dict],
    overwrite: bool,
) -> int:
    """``create`` (``overwrite=False``) or ``update``: PUT the body built from the flags and
    print ``ok: created|updated <kind> NAME``."""
    verb = "update" if overwrite else "create"
    kind = collection.removesuffix("s")
    qname = name_parser(args.name)
    body = build_body(args)
    with failing(f"{verb} {kind} '{args.name}'"):
        saved = entity_request(
            ctx, "PUT", collection, qname, {"overwrite": True} if overwrite else None, body
        ).body
    done(ctx, saved, f"{verb}d {kind} {args.name}")
    return 0


def get_entity(
    args: argparse.Namespace,
    ctx: Context,
    collection: str,
    name_parser: NameParser,
    summarize: Callable[[dict], str],
) -> int:
    """``get NAME [-s]``: the entity's JSON, or its ``summarize``d text with ``-s``."""
    kind = collection.removesuffix("s")
    with failing(f"get {kind} '{args.name}'"):
        entity = entity_request(ctx, "GET", collection, name_parser(args.name)).body
    if args.summary and not ctx.json:
        output.emit(summarize(entity))
    else:
        show(ctx, entity, f"got {kind} {args.name}")
    return 0


def delete_entity(
    args: argparse.Namespace,
    ctx: Context,
    collection: str,
    name_parser: NameParser,
    query: dict | None = None,
) -> int:
    """``delete NAME``: ``ok: deleted <kind> NAME``, or the server's JSON."""
    kind = collection.removesuffix("s")
    with failing(f"delete {kind} '{args.name}'"):
        deleted = entity_request(ctx, "DELETE", collection, name_parser(args.name), query).body
    done(ctx, deleted, f"deleted {kind} {args.name}")
    return 0


def list_collection(
    args: argparse.Namespace,
    ctx: Context,
    collection: str,
    namespace: str | None = None,
    package: str | None = None,
    render: Callable[[list[dict]], str] | None = None,
) -> int:
    """``list [NAMESPACE]``: one page of ``collection`` (``namespace`` as typed, ``/guest`` or
    ``guest``; none is the caller's own), printed by ``print_entity_list``."""
    with failing(f"obtain the list of {collection}"):
        entities = ctx.client().list_entities(
            collection,
            namespace.strip("/") if namespace else None,
            package,
            limit=args.limit,
            skip=args.skip or None,
        )
    print_entity_list(args, ctx, collection, entities, render)
    return 0


def print_entity_list(
    args: argparse.Namespace,
    ctx: Context,
    collection: str,
    entities: list[dict],
    render: Callable[[list[dict]], str] | None = None,
) -> None:
    """Sorted by name with ``-n``; the JSON with ``--json``, else ``render`` (default: wsk's
    ``/ns/name  private|shared  kind`` block)."""
    if args.name_sort:
        entities = sorted(entities, key=lambda e: e.get("name", ""))
    if ctx.json:
        output.emit(output.pretty(entities))
    else:
        output.emit(render(entities) if render else output.format_entity_list(collection, entities))
