"""Service commands of ``tango``: ``standalone``, ``controller``, ``invoker`` and ``admin``.

``standalone`` is OpenWhisk standalone's counterpart: one command that makes sure the Docker
engine answers and the runtime images exist, opens the SQLite store, starts an invoker process
beside an in-process controller, and prints the API host and key to use.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from common.environment import environment

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> str:
    return environment().data_dir or str(Path.home() / ".tango")


# -- tango controller / tango invoker ---------------------------------------------------------
def controller(argv: list[str]) -> int:
    from controller.server import main

    main(argv)
    return 0


def invoker(argv: list[str]) -> int:
    from invoker.server import main

    main(argv)
    return 0


# -- tango standalone --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_docker_and_images(build: bool) -> None:
    import docker

    try:
        docker.from_env().ping()
    except Exception as exc:
        raise SystemExit(
            f"error: cannot reach the Docker engine ({exc}).\n"
            "Start it first (as root: 'dockerd &', or run scripts/standalone.sh which does it)."
        ) from exc
    from controller.runtimes import KINDS

    client = docker.from_env()
    missing = []
    for spec in KINDS.values():
        try:
            client.images.get(spec["image"])
        except docker.errors.ImageNotFound:
            missing.append(spec["image"])
    need = [m for m in missing if "vlm" not in m]
    if need and build:
        print(f"building runtime images ({', '.join(need)}) ...", flush=True)
        subprocess.run(
            ["bash", str(REPO_ROOT / "docker" / "build-images.sh"), "python"], check=True
        )
    elif need:
        raise SystemExit(
            f"error: runtime images missing: {', '.join(need)} (run docker/build-images.sh)"
        )


def standalone(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="tango standalone",
        description="Run controller + invoker + SQLite store + Docker on this machine.",
    )
    p.add_argument(
        "--port", type=int, default=3233, help="API port (default 3233, like OpenWhisk standalone)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help="where the SQLite store lives (default ~/.tango)",
    )
    p.add_argument(
        "--invoker-port", type=int, default=0, help="invoker API port (default: a free port)"
    )
    p.add_argument(
        "--user-memory",
        type=int,
        default=2048 if environment().user_memory is None else environment().user_memory,
        help="memory (MB) the invoker may give to containers",
    )
    p.add_argument(
        "--cpus",
        type=float,
        default=None,
        help="cores each invoker may bind to running activations (default: this machine's)",
    )
    p.add_argument("--invokers", type=int, default=1, help="how many invoker processes to start")
    p.add_argument(
        "--runtime-image",
        action="append",
        default=[],
        metavar="KIND=IMAGE",
        help="runtime image of a kind, e.g. vlm=tango/action-vlm:cuda (repeatable)",
    )
    p.add_argument(
        "--gpu-kind",
        action="append",
        default=[],
        metavar="KIND",
        help="containers of this kind get the host's GPUs, e.g. vlm (repeatable)",
    )
    p.add_argument(
        "--container-network",
        choices=("host", "bridge"),
        default="host",
        help="bridge: each action container in its own network namespace, reachable only "
        "through 127.0.0.1 (default host)",
    )
    p.add_argument(
        "--max-action-memory",
        type=int,
        default=None,
        metavar="MB",
        help="largest memory limit an action may have (default 512, as OpenWhisk)",
    )
    p.add_argument("--no-build", action="store_true", help="do not build missing runtime images")
    p.add_argument("--clean", action="store_true", help="start with an empty store")
    a = p.parse_args(argv)

    import logging

    from controller.app import build_services, create_app
    from controller.config import GUEST_KEY, ControllerConfig, SystemLimits
    from controller.server import serve
    from controller.store.db import default_url

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    _ensure_docker_and_images(build=not a.no_build)
    data = Path(a.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    if a.clean:
        for f in data.glob("tango.db*"):
            f.unlink()
    # OpenWhisk's well-known guest and whisk.system keys, for local development only
    cfg = ControllerConfig(
        host=a.host,
        port=a.port,
        db_url=default_url(data),
        data_dir=str(data),
        bootstrap_dev_keys=True,
    )
    if a.max_action_memory:
        try:
            cfg.limits = SystemLimits(max_memory=a.max_action_memory)
        except ValueError as e:
            raise SystemExit(f"error: --max-action-memory: {e}") from None
    from cli import standalone_invokers

    controller_url = f"http://127.0.0.1:{a.port}"
    token, adopted = standalone_invokers.adoptable(data, controller_url)
    if token:  # invokers of a standalone that crashed: they keep their token
        cfg.internal_token = token
    services = build_services(cfg)
    app = create_app(cfg, services)
    from cli.admin_store import forget_standalone, record_standalone

    # where `tango admin` finds this platform's store (removed at exit)
    record = record_standalone(a.port, cfg.db_url, str(data))

    procs: list = []
    for i in range(a.invokers):
        if i in adopted:
            print(f"adopting invoker{i} (pid {adopted[i]}) left by an earlier run", flush=True)
            procs.append(standalone_invokers.AdoptedInvoker(adopted[i], f"invoker{i}"))
            continue
        port = a.invoker_port + i if a.invoker_port else _free_port()
        cmd = [
            sys.executable,
            "-m",
            "invoker.server",
            "--id",
            f"invoker{i}",
            "--port",
            str(port),
            "--controller",
            f"http://127.0.0.1:{a.port}",
            "--token",
            cfg.internal_token,
            "--user-memory",
            str(a.user_memory),
            # invokers on one host must not hand out the same container ports
            "--container-ports",
            f"{12000 + 1000 * i}-{12999 + 1000 * i}",
            *(["--cpus", str(a.cpus)] if a.cpus else []),
            *[x for pair in a.runtime_image for x in ("--runtime-image", pair)],
            *[x for kind in a.gpu_kind for x in ("--gpu-kind", kind)],
            "--container-network",
            a.container_network,
            # what actions call back (their __OW_API_HOST): this controller, wherever it listens
            "--api-host",
            f"http://{'127.0.0.1' if a.host in ('0.0.0.0', '::', '') else a.host}:{a.port}",
        ]
        procs.append(subprocess.Popen(cmd, cwd=REPO_ROOT, start_new_session=True))
    standalone_invokers.record(
        data, controller_url, cfg.internal_token, {i: p.pid for i, p in enumerate(procs)}
    )

    def stop(*_):
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 15
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
        services.close()
        standalone_invokers.forget(data)
        forget_standalone(record)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host = f"http://{'localhost' if a.host in ('127.0.0.1', '0.0.0.0') else a.host}:{a.port}"
    print(
        f"Tango standalone is starting: controller on {host}, {a.invokers} invoker(s), store {cfg.db_url}",
        flush=True,
    )
    print("Point the CLI (or wsk) at it with:", flush=True)
    print(f"  tango property set --apihost '{host}' --auth '{GUEST_KEY}'", flush=True)
    print(
        "This is for local development: the guest and whisk.system namespaces use OpenWhisk's "
        "publicly known keys (tango controller installs none; create keys with tango admin).",
        flush=True,
    )
    try:
        serve(cfg, app)
    finally:
        stop()
    return 0


# -- tango admin (wskadmin) -------------------------------------------------------------------
def admin(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="tango admin", description="Manage namespaces, keys and limits (like wskadmin)."
    )
    # the store flags, accepted before or after the subcommand (SUPPRESS: a later parser does
    # not reset what an earlier one read)
    store = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    store.add_argument(
        "--db-url", help="store URL (default: the store of the standalone the CLI points at)"
    )
    store.add_argument("--data-dir", help="the standalone's data folder whose store to use")
    store.add_argument("--apihost", help="the platform whose store to use (default: ~/.wskprops)")
    p.add_argument("--db-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--apihost", default=None, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="group", required=True)
    user = sub.add_parser("user", help="namespaces and their keys", parents=[store]).add_subparsers(
        dest="cmd", required=True
    )
    uc = user.add_parser("create", help="create a namespace and print its key", parents=[store])
    uc.add_argument("name")
    uc.add_argument(
        "-u", "--auth", default=None, help="use this UUID:KEY instead of a generated one"
    )
    uc.add_argument(
        "--admin", action="store_true", help="the key may read and change every namespace"
    )
    user.add_parser("list", help="list namespaces", parents=[store])
    ug = user.add_parser("get", help="print a namespace's key", parents=[store])
    ug.add_argument("name")
    limits = sub.add_parser(
        "limits", help="per-namespace throttles", parents=[store]
    ).add_subparsers(dest="cmd", required=True)
    ls = limits.add_parser("set", help="set throttles for a namespace", parents=[store])
    ls.add_argument("namespace")
    ls.add_argument("--invocationsPerMinute", type=int)
    ls.add_argument("--concurrentInvocations", type=int)
    ls.add_argument("--firesPerMinute", type=int)
    ls.add_argument("--allowedKinds", nargs="+")
    ls.add_argument("--storeActivations", choices=["true", "false"])
    lg = limits.add_parser("get", help="show a namespace's throttles", parents=[store])
    lg.add_argument("namespace")
    a = p.parse_args(argv)

    from cli import config
    from cli.admin_store import choose_store, running_standalones
    from controller.auth import Subjects
    from controller.store.db import Database

    apihost = a.apihost or config.resolve({}).apihost
    chosen = choose_store(
        a.db_url, a.data_dir, os.environ, apihost, running_standalones(), default_data_dir()
    )
    print(f"tango admin: store {chosen.db_url}, {chosen.reason}", file=sys.stderr)
    db = Database(chosen.db_url)
    db.migrate()
    subjects = Subjects(db)
    try:
        if a.group == "user" and a.cmd == "create":
            try:
                created = subjects.create(a.name, a.auth, admin=a.admin)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(created.api_key)
        elif a.group == "user" and a.cmd == "list":
            for each in subjects.list():
                print(f"{each.namespace}{'  (admin)' if each.admin else ''}")
        elif a.group == "user" and a.cmd == "get":
            ident = subjects.get(a.name)
            if ident is None:
                print(f"error: namespace '{a.name}' does not exist", file=sys.stderr)
                return 1
            print(ident.api_key)
        elif a.group == "limits":
            ident = subjects.get(a.namespace)
            if ident is None:
                print(f"error: namespace '{a.namespace}' does not exist", file=sys.stderr)
                return 1
            if a.cmd == "set":
                new = {
                    "invocationsPerMinute": a.invocationsPerMinute,
                    "concurrentInvocations": a.concurrentInvocations,
                    "firesPerMinute": a.firesPerMinute,
                    "allowedKinds": a.allowedKinds,
                    "storeActivations": None
                    if a.storeActivations is None
                    else a.storeActivations == "true",
                }
                merged = subjects.set_limits(a.namespace, new)
                print(f'Limits successfully set for "{a.namespace}": {merged}')
            else:
                print(ident.limits or "No limits found, default system limits apply")
    finally:
        db.dispose()
    return 0
