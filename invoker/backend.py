"""The container backend interface: the one seam between the invoker and a container engine.

`ContainerProxy` (one container's life cycle) and the invoker service call these methods;
`invoker.docker_backend.DockerBackend` implements them with the docker SDK and direct cgroup
v1 file access. Everything here is engine-neutral data plus the abstract interface.
"""

from __future__ import annotations

import abc
import re
import secrets
from dataclasses import dataclass, field


def container_name(invoker_id: str, counter: int, *parts: str) -> str:
    """`tango_{invokerId}_{counter}_{ns}_{action}` (stem cells: `..._prewarm_{kind}`), reduced
    to the characters Docker accepts in a name."""
    raw = "_".join(["tango", invoker_id, str(counter), *parts])
    return re.sub(r"[^a-zA-Z0-9_.-]", "", raw.replace("/", "_").replace(":", ""))[:200]


# The runtime contract's guard (docs/contracts.md, runtimes/python/proxy.py, which cannot import
# this module inside its image): the invoker gives each container its own secret in this
# variable and sends it in this header on every /init and /run; the runtime refuses calls
# without it, so code in another container that finds the port cannot drive this runtime.
SECRET_ENV = "TANGO_CONTAINER_SECRET"
SECRET_HEADER = "X-Tango-Container-Secret"


def new_container_secret() -> str:
    """A fresh per-container secret (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ContainerSpec:
    """What to start: one action container whose runtime the invoker reaches on 127.0.0.1:`port`:
    on the host network it listens there itself; on Docker's bridge (`network="bridge"`) it
    listens on RUNTIME_PORT inside its own network namespace, published on 127.0.0.1:`port`.
    `secret` is generated per spec: the runtime gets it in SECRET_ENV and requires it on every
    call; "" starts a runtime that checks nothing (only the hardening benchmark's baseline)."""

    name: str
    image: str
    port: int
    memory: int  # MB, hard limit (swap = memory: no swap)
    cpu: float | None  # cores as a hard CFS quota; None = no quota (shares only)
    cpu_shares: int = 1024
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    gpus: bool = False  # give the container every GPU of the host (NVIDIA container runtime)
    network: str = "host"  # "host" or "bridge"
    secret: str = field(default_factory=new_container_secret, repr=False)


RUNTIME_PORT = 8080  # the runtime's port inside a bridge-networked container (OpenWhisk's)
NETWORKS = ("host", "bridge")


@dataclass
class ContainerHandle:
    """A started container as the backend knows it; `extra` is backend-private state."""

    id: str
    name: str
    port: int
    memory: int
    cpu: float | None
    extra: dict = field(default_factory=dict)
    secret: str = field(default="", repr=False)  # what the runtime requires (ContainerSpec)


@dataclass(frozen=True)
class UsageSnapshot:
    """Cumulative CPU time (ns) and peak memory since the last reset (bytes)."""

    cpu_ns: int
    max_memory: int


@dataclass(frozen=True)
class LogChunk:
    """Raw log bytes read from the container's log since an offset."""

    data: bytes
    offset: int  # where the next read starts


class ContainerError(RuntimeError):
    """A backend operation failed (image missing, engine error, cgroup write refused)."""


class ContainerBackend(abc.ABC):
    """Creates and controls action containers for one invoker."""

    @abc.abstractmethod
    def create(self, spec: ContainerSpec) -> ContainerHandle:
        """Create and start a container; returns once the engine reports it running."""

    @abc.abstractmethod
    def pause(self, handle: ContainerHandle) -> None: ...

    @abc.abstractmethod
    def resume(self, handle: ContainerHandle) -> None: ...

    @abc.abstractmethod
    def remove(self, handle: ContainerHandle) -> None:
        """Force-remove the container; never raises for an already gone container."""

    @abc.abstractmethod
    def resize(self, handle: ContainerHandle, cpu: float | None, memory: int) -> float:
        """Bind a new size in place; returns the milliseconds spent (0.0 when unchanged)."""

    @abc.abstractmethod
    def reset_peak_memory(self, handle: ContainerHandle) -> None: ...

    @abc.abstractmethod
    def usage(self, handle: ContainerHandle) -> UsageSnapshot: ...

    @abc.abstractmethod
    def log_offset(self, handle: ContainerHandle) -> int:
        """The current end of the container's log (start reading the next activation here)."""

    @abc.abstractmethod
    def read_logs(self, handle: ContainerHandle, offset: int) -> LogChunk:
        """Raw docker json-file log lines written since `offset`."""

    @abc.abstractmethod
    def oom_killed(self, handle: ContainerHandle) -> bool: ...

    @abc.abstractmethod
    def remove_leftovers(self, instance: str | None = None) -> list[str]:
        """Remove containers a previous run of this invoker left behind (or, with ``instance``,
        those of another invoker of this host that died); returns their names."""
