"""The invoker's configuration: one typed object built by `invoker.server.main` or by tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

from invoker.pool import PoolConfig, PrewarmSpec

PYTHON_IMAGE = "tango/action-python-v3.11:latest"

DEFAULT_RUNTIME_IMAGES = {
    "python:3.11": PYTHON_IMAGE,
    "python:3": PYTHON_IMAGE,
    "python:default": PYTHON_IMAGE,
    "vlm": "tango/action-vlm:cpu",
}


class UnsupportedKind(ValueError):
    pass


def parse_runtime_images(pairs: list[str]) -> dict[str, str]:
    """`KIND=IMAGE` overrides (e.g. `vlm=tango/action-vlm:cuda` on a GPU host) over the defaults."""
    images = dict(DEFAULT_RUNTIME_IMAGES)
    for pair in pairs:
        kind, sep, image = pair.partition("=")
        if not sep or not kind.strip() or not image.strip():
            raise ValueError(
                f"runtime image must look like KIND=IMAGE (e.g. vlm=tango/action-vlm:cuda), got '{pair}'"
            )
        images[kind.strip()] = image.strip()
    return images


@dataclass
class InvokerConfig:
    id: str = "invoker0"
    host: str = "127.0.0.1"
    port: int = 3240
    # Controllers to register with and report to; more are learned from their answers (every
    # live controller of the shared store). Empty: run stand-alone, no registration/heartbeats.
    controller_urls: tuple[str, ...] = ()
    token: str | None = None  # X-Tango-Internal; None: accept any request
    user_memory: int = 2048  # MB for all action containers together
    cpus: float = field(default_factory=lambda: float(os.cpu_count() or 1))
    container_ports: tuple[int, int] = (12000, 12999)  # [first, last] for action proxies
    pause_grace: float | None = 2.0  # s idle before `docker pause`; None = never
    idle_timeout: float = 600.0  # s idle before a container is removed
    prewarm: tuple[PrewarmSpec, ...] = (PrewarmSpec("python:3.11", 256, 1),)
    runtime_images: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_RUNTIME_IMAGES))
    api_host: str = "http://127.0.0.1:3233"  # __OW_API_HOST inside containers
    threads: int = 64  # waitress worker threads = concurrent activations
    heartbeat_interval: float = 1.0
    stats_window: int = 200  # latencies kept per (action, option)
    log_idle_timeout: float = 2.0  # s without log output before giving up on sentinels
    start_timeout: float = 30.0  # s for a new container's proxy to listen
    gpu_kinds: tuple[str, ...] = ()  # kinds whose containers get the host's GPUs (e.g. vlm)
    container_network: str = "host"  # "bridge": each container in its own network namespace

    outbox_retry_s: float = 0.5  # how often undelivered results are offered to controllers
    recent_results: int = 20000  # finished records kept for a controller's lookup
    drain_grace_s: float = 30.0  # on SIGTERM, how long running activations may finish

    @property
    def controller_url(self) -> str | None:
        """The first configured controller (it scopes the container labels, see ``instance``)."""
        return self.controller_urls[0] if self.controller_urls else None

    @property
    def instance(self) -> str:
        """Names and labels this invoker's containers: the id, scoped by the controller's port
        so that two platforms on one host (tests, benchmarks) never remove each other's
        containers as "leftovers"; a restarted invoker of the same platform still does."""
        port = urlparse(self.controller_url).port if self.controller_url else None
        return f"{self.id}-{port}" if port else self.id

    def pool_config(self) -> PoolConfig:
        return PoolConfig(
            user_memory=self.user_memory,
            cpus=self.cpus,
            pause_grace=self.pause_grace,
            idle_timeout=self.idle_timeout,
            prewarm=self.prewarm,
            no_pause_kinds=frozenset(self.canonical_kind(k) for k in self.gpu_kinds),
        )

    def image_for(self, kind: str, exec_: dict) -> str:
        """Runtime image of an action: the kind's image, or `exec.image` for blackbox."""
        if kind == "blackbox":
            if not exec_.get("image"):
                raise UnsupportedKind("blackbox action has no exec.image")
            return exec_["image"]
        try:
            return self.runtime_images[kind]
        except KeyError:
            kinds = ", ".join(sorted([*self.runtime_images, "blackbox"]))
            raise UnsupportedKind(
                f"kind '{kind}' is not supported by invoker {self.id}; accepted kinds: {kinds}"
            ) from None

    def wants_gpus(self, image: str) -> bool:
        """Whether containers of `image` get the host's GPUs: it is the image of a GPU kind."""
        return any(self.runtime_images.get(k) == image for k in self.gpu_kinds)

    def canonical_kind(self, kind: str) -> str:
        """Aliases share stem cells: python:3 and python:default are python:3.11."""
        image = self.runtime_images.get(kind)
        for name, img in self.runtime_images.items():
            if img == image:
                return name
        return kind
