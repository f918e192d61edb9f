"""``tango controller``: serve the controller's REST API with waitress (a production, threaded
WSGI server that sets TCP_NODELAY on its sockets)."""

from __future__ import annotations

import _thread
import argparse
import logging
import signal
import threading
import time

from common.environment import environment
from common.wsgi_server import create_server
from controller.api.common import CORS_HEADERS
from controller.app import create_app
from controller.config import ControllerConfig, SystemLimits
from controller.limits import max_request_body
from controller.store.db import default_url

log = logging.getLogger("tango.controller")
DRAIN_GRACE_S = 60.0


def parse_args(argv: list[str] | None) -> ControllerConfig:
    p = argparse.ArgumentParser(prog="tango controller", description="Run a Tango controller.")
    env = environment()
    p.add_argument("--host", default=env.host or "127.0.0.1")
    p.add_argument("--port", type=int, default=env.port or 3233)
    p.add_argument("--data-dir", default=env.data_dir or "var")
    p.add_argument(
        "--db-url",
        default=None,
        help="SQLAlchemy URL (default: TANGO_DB_URL or SQLite in --data-dir)",
    )
    p.add_argument(
        "--token",
        default=env.internal_token,
        help="shared secret that invokers present (X-Tango-Internal)",
    )
    p.add_argument("--threads", type=int, default=64)
    p.add_argument(
        "--max-pending",
        type=int,
        default=ControllerConfig.max_pending,
        metavar="N",
        help="activations in flight here before invokes answer 503 (default %(default)s)",
    )
    p.add_argument(
        "--max-queue-wait",
        type=float,
        default=ControllerConfig.max_queue_wait_s,
        metavar="S",
        help="an invoke that waited this long for a server thread answers 503 "
        "(default %(default)s)",
    )
    p.add_argument(
        "--no-dev-keys",
        action="store_true",
        help=argparse.SUPPRESS,  # the default now: only `tango standalone` installs them
    )
    p.add_argument(
        "--no-alarms",
        action="store_true",
        help="never fire alarms here (another controller of the store does; see controller.alarm_leader)",
    )
    p.add_argument(
        "--max-action-memory",
        type=int,
        default=SystemLimits.max_memory,
        metavar="MB",
        help="largest memory limit an action may have (OpenWhisk's whisk.memory.max; "
        "default %(default)s; a GPU model runtime needs several GB)",
    )
    p.add_argument(
        "--advertise-url",
        default="",
        metavar="URL",
        help="where invokers reach this controller (default http://HOST:PORT, the host name "
        "when listening on all addresses); invokers learn every controller from any one",
    )
    p.add_argument(
        "--public-metrics",
        action="store_true",
        help="serve GET /metrics without credentials (its series name every namespace's "
        "actions; by default it needs the internal token or an admin key)",
    )
    p.add_argument(
        "--drain-grace",
        type=float,
        default=DRAIN_GRACE_S,
        metavar="S",
        help="on SIGTERM, how long accepted activations may take to finish (default %(default)s)",
    )
    a = p.parse_args(argv)
    try:
        limits = SystemLimits(max_memory=a.max_action_memory)
    except ValueError as e:
        p.error(f"--max-action-memory: {e}")
    cfg = ControllerConfig(
        host=a.host,
        port=a.port,
        db_url=a.db_url or default_url(a.data_dir),
        threads=a.threads,
        data_dir=a.data_dir,
        alarms=not a.no_alarms,
        limits=limits,
    )
    if a.token:
        cfg.internal_token = a.token
    cfg.drain_grace_s = a.drain_grace
    cfg.max_pending, cfg.max_queue_wait_s = a.max_pending, a.max_queue_wait
    cfg.advertise_url = a.advertise_url
    cfg.public_metrics = a.public_metrics
    return cfg


def serve(config: ControllerConfig, app=None, drain_grace_s: float = DRAIN_GRACE_S) -> None:
    """Serve until SIGTERM or Ctrl-C. SIGTERM drains first: invokes answer 503 (a load balancer
    sends them to another controller), accepted activations get up to ``drain_grace_s`` to
    finish, and what is left stays in the store for another controller (or the next start)."""
    app = app or create_app(config)
    server = create_server(
        app,
        host=config.host,
        port=config.port,
        # a body larger than any endpoint takes is refused before waitress buffers it (waitress
        # refuses a body of its limit or more; one of at most the largest is left to BodyLimit,
        # which knows each endpoint's limit); waitress's own refusals are JSON with CORS too
        max_request_body_size=max_request_body(config.limits) + 1,
        error_headers=CORS_HEADERS.items(),
        threads=config.threads,
        connection_limit=2000,
        channel_timeout=300,
        ident="tango",
    )

    def drain_then_exit(*_):
        def run():
            left = app.extensions["tango"].activation_service.drain(drain_grace_s)
            log.info("drained (%d activations left to other controllers); stopping", left)
            time.sleep(0.3)  # let the last answers leave
            _thread.interrupt_main()

        threading.Thread(target=run, name="drain", daemon=True).start()

    signal.signal(signal.SIGTERM, drain_then_exit)
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
        # Started with SIGINT ignored (nohup, a background job of a script): interrupt_main,
        # which ends the drain, would do nothing, and the controller would never exit.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run otherwise
    config = parse_args(argv)
    print(
        f"tango controller on http://{config.host}:{config.port} (store: {config.db_url.split('://')[0]})",
        flush=True,
    )
    serve(config, drain_grace_s=config.drain_grace_s)


if __name__ == "__main__":
    main()
