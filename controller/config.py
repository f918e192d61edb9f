"""The controller's configuration as one typed object (built by ``tango controller`` /
``tango standalone`` from flags and ``TANGO_*`` environment variables)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from common.environment import environment

# OpenWhisk's well-known development keys (docs/design.md §7.1); standalone mode
# bootstraps them so existing ~/.wskprops files work unchanged.
GUEST_KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
SYSTEM_KEY = "789c46b1-71f6-4ed5-8c54-816aa4f8c502:abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"


@dataclass
class SystemLimits:
    """Open-source OpenWhisk defaults (docs/design.md §7.2); namespaces may override the throttles."""

    min_memory: int = 128
    max_memory: int = 512
    std_memory: int = 256
    min_timeout: int = 100
    max_timeout: int = 300_000
    std_timeout: int = 60_000
    min_logs: int = 0
    max_logs: int = 10
    std_logs: int = 10
    min_concurrency: int = 1
    max_concurrency: int = 500
    std_concurrency: int = 1
    max_payload: int = 1_048_576
    max_parameters: int = 1_048_576
    max_code: int = 48 * 1_048_576
    sequence_max_length: int = 50  # atomic actions a sequence runs, and how deep it nests
    max_json_depth: int = 100  # request bodies and action results (controller.limits)
    max_archive_files: int = 10_000  # files in a zip of action code
    invocations_per_minute: int = 6000
    concurrent_invocations: int = 1000
    fires_per_minute: int = 600
    max_blocking_wait_ms: int = 60_000

    def __post_init__(self) -> None:
        if self.max_memory < self.min_memory:
            raise ValueError(
                f"the largest action memory ({self.max_memory} MB) must be at least "
                f"the smallest ({self.min_memory} MB)"
            )


@dataclass
class ControllerConfig:
    host: str = "127.0.0.1"
    port: int = 3233
    db_url: str = "sqlite:///var/tango.db"
    internal_token: str = field(
        default_factory=lambda: environment().internal_token or secrets.token_hex(16)
    )
    api_host: str = ""  # what actions see as __OW_API_HOST
    advertise_url: str = ""  # where invokers reach this controller (default from host:port)
    drain_grace_s: float = 60.0  # on SIGTERM, how long accepted activations may take to finish
    # Create guest and whisk.system with OpenWhisk's publicly known keys: only `tango standalone`
    # (local development) does; `tango controller` serves only keys an operator created.
    bootstrap_dev_keys: bool = False
    invoker_down_after_s: float = 10.0  # no heartbeat for this long → "down"
    threads: int = 64  # WSGI worker threads
    # Admission (controller.invoke.admission): a bounded queue per controller; beyond it an
    # invoke answers 503 at once instead of waiting.
    max_pending: int = 256  # activations accepted here and not finished
    max_queue_wait_s: float = 0.5  # longest wait of a request for a server thread
    alarms: bool = True  # may fire alarms when it holds the leadership (controller.alarm_leader)
    # GET /metrics names every namespace's actions: only the operator reads it (admin key or the
    # internal token, controller.api.metrics) unless this is set (a private network).
    public_metrics: bool = False
    alarm_leader_poll_s: float = 2.0  # how often followers retry the alarm leadership lock
    limits: SystemLimits = field(default_factory=SystemLimits)
    data_dir: str = "var"

    def __post_init__(self) -> None:
        if not self.api_host:
            self.api_host = f"http://{self.host}:{self.port}"
