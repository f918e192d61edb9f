"""Command-line entry point of the invoker: `python -m invoker.server --id invoker0 ...`.

Builds an `InvokerConfig` from the arguments, starts the `Invoker` (leftover cleanup,
registration, heartbeats, stem cells) and serves `create_app` with waitress, whose worker
threads bound the number of concurrent activations. SIGTERM and Ctrl-C stop it gracefully:
scheduler stopped, containers removed.
"""

from __future__ import annotations

import _thread
import argparse
import logging
import signal
import sys
import threading
import time

from common.wsgi_server import create_server
from invoker.backend import NETWORKS
from invoker.config import InvokerConfig, parse_runtime_images
from invoker.service import Invoker, create_app


def parse_config(argv: list[str] | None = None) -> InvokerConfig:
    defaults = InvokerConfig()
    p = argparse.ArgumentParser(prog="tango-invoker", description="Run a Tango invoker.")
    p.add_argument("--id", default=defaults.id, help="invoker id (default %(default)s)")
    p.add_argument("--host", default=defaults.host, help="listen address (default %(default)s)")
    p.add_argument(
        "--port", type=int, default=defaults.port, help="listen port (default %(default)s)"
    )
    p.add_argument(
        "--controller",
        action="append",
        default=[],
        help="controller base URL to register with (repeatable, or comma-separated: every "
        "controller of the cluster; the others are learned from them); omit to run stand-alone",
    )
    p.add_argument("--token", default=None, help="shared internal token (X-Tango-Internal)")
    p.add_argument(
        "--user-memory",
        type=int,
        default=defaults.user_memory,
        help="MB for all action containers (default %(default)s)",
    )
    p.add_argument(
        "--cpus",
        type=float,
        default=defaults.cpus,
        help="cores for all action containers (default: all, %(default)s)",
    )
    p.add_argument(
        "--container-ports",
        default="{}-{}".format(*defaults.container_ports),
        help="loopback port range for action runtimes (default %(default)s)",
    )
    p.add_argument(
        "--api-host",
        default=defaults.api_host,
        help="__OW_API_HOST given to actions (default %(default)s)",
    )
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
        help="containers of this kind get the host's GPUs (docker --gpus all; repeatable)",
    )
    p.add_argument(
        "--container-network",
        choices=NETWORKS,
        default=defaults.container_network,
        help="host: containers share the host's network (fastest start); bridge: each in its "
        "own network namespace, runtime published on 127.0.0.1 only, host services on "
        "loopback out of reach (default %(default)s)",
    )
    a = p.parse_args(argv)
    try:
        images = parse_runtime_images(a.runtime_image)
    except ValueError as e:
        p.error(str(e))
    unknown = [k for k in a.gpu_kind if k not in images]
    if unknown:
        p.error(
            f"--gpu-kind {', '.join(unknown)}: not a runtime kind (kinds: {', '.join(sorted(images))})"
        )
    try:
        first, last = (int(x) for x in a.container_ports.split("-"))
    except ValueError:
        p.error(f"--container-ports must look like 12000-12999, got '{a.container_ports}'")
    return InvokerConfig(
        id=a.id,
        host=a.host,
        port=a.port,
        controller_urls=tuple(u.strip() for v in a.controller for u in v.split(",") if u.strip()),
        token=a.token,
        user_memory=a.user_memory,
        cpus=a.cpus,
        container_ports=(first, last),
        api_host=a.api_host,
        runtime_images=images,
        gpu_kinds=tuple(a.gpu_kind),
        container_network=a.container_network,
    )


def build_server(config: InvokerConfig, backend=None):
    """A started `Invoker` and a waitress server for it (port 0 picks a free port; the bound
    port is `server.effective_port`). The caller runs `server.run()` and later stops both."""
    app = create_app(config, backend)
    invoker: Invoker = app.extensions["invoker"]
    server = create_server(
        app,
        host=config.host,
        port=config.port,
        threads=config.threads,
        connection_limit=max(config.threads * 2, 100),
        # keep reading while a request runs, so a controller that hangs up is noticed
        # (waitress.client_disconnected): its result then goes to the outbox
        channel_request_lookahead=1,
    )
    config.port = server.effective_port
    invoker.start()
    return server, invoker


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run otherwise
    config = parse_config(argv)
    server, invoker = build_server(config)

    def drain_then_exit(*_):
        # Refuse new work (buffered activations answer 503 and go elsewhere), let the running
        # ones finish and their answers leave, then stop the server loop.
        def run():
            invoker.quiesce(config.drain_grace_s)
            time.sleep(0.3)
            _thread.interrupt_main()

        threading.Thread(target=run, name="drain", daemon=True).start()

    signal.signal(signal.SIGTERM, drain_then_exit)
    logging.getLogger("tango.invoker").info(
        "invoker %s listening on %s:%s", config.id, config.host, config.port
    )
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        invoker.stop()
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
