"""Docker implementation of `ContainerBackend`: the docker SDK for life cycle, cgroup v1 files
for everything on the activation path.

Used by the invoker service and `bench/invoker_lifecycle.py`. Creating, pausing and removing
go through the Docker engine API (low-level `docker.APIClient`, two calls per start). Binding
a size, reading usage and reading logs happen once per activation, so they touch files
directly: the container's cgroup v1 directories (`cpu`, `cpuacct`, `memory` under
`<cgroup root>/<subsystem>/docker/<id>`, the cgroupfs driver's layout) and its json-file log.
When the cgroup files are absent (cgroup v2, systemd driver), resizing falls back to the SDK's
`container.update` and usage reads as zero.

Every container is confined (`Confinement`): no capabilities, no-new-privileges, a pids limit,
the image's non-root user, and its runtime secret in the environment (docker/README.md). On the
bridge, containers join `ISOLATED_NETWORK`, a bridge with inter-container traffic disabled.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from docker.types import DeviceRequest, LogConfig, Ulimit

import docker
from invoker.backend import (
    RUNTIME_PORT,
    SECRET_ENV,
    ContainerBackend,
    ContainerError,
    ContainerHandle,
    ContainerSpec,
    LogChunk,
    UsageSnapshot,
)

CFS_PERIOD_US = 100_000
MB = 1024 * 1024
ISOLATED_NETWORK = "tango-actions"  # bridge network of action containers, created on first use
NO_ICC = {"com.docker.network.bridge.enable_icc": "false"}


@dataclass(frozen=True)
class Confinement:
    """What an action container may do beyond its size limits. The default is the invoker's;
    `bench/container_hardening.py` passes the options Tango had before it, as its baseline."""

    cap_drop: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    user: str | None = None  # None: the image's USER (non-root in Tango's runtime images)
    bridge_network: str = ISOLATED_NETWORK  # the network of `network="bridge"` containers


class DockerBackend(ContainerBackend):
    def __init__(
        self,
        invoker_id: str,
        cgroup_root: str = "/sys/fs/cgroup",
        cgroup_parent: str = "docker",
        client: docker.DockerClient | None = None,
        confinement: Confinement = Confinement(),
    ):
        self.invoker_id = invoker_id
        self.confinement = confinement
        self._bridge_network_id: str | None = None
        self.client = client or docker.from_env(timeout=60)
        self.api = self.client.api
        self.cgroup_root, self.cgroup_parent = cgroup_root, cgroup_parent
        self.docker_root = self.client.info().get("DockerRootDir", "/var/lib/docker")

    # ---- life cycle (engine API) ----------------------------------------------------------

    def host_config(self, spec: ContainerSpec) -> dict:
        """Docker's HostConfig for `spec`: host network, or the isolated bridge with the runtime's
        port published on 127.0.0.1 only (and `host.docker.internal` naming the host); hard
        memory and CPU limits, the confinement, json-file logs, and with `spec.gpus` every GPU of
        the host (`--gpus all`)."""
        gpus = [DeviceRequest(count=-1, capabilities=[["gpu"]])] if spec.gpus else None
        confined = self.confinement
        network: dict[str, Any] = {"network_mode": "host"}
        if spec.network == "bridge":
            network = {
                "network_mode": self.bridge_network_id(),
                "port_bindings": {RUNTIME_PORT: ("127.0.0.1", spec.port)},
                "extra_hosts": {"host.docker.internal": "host-gateway"},
            }
        return self.api.create_host_config(
            **network,
            mem_limit=spec.memory * MB,
            memswap_limit=spec.memory * MB,
            nano_cpus=int(spec.cpu * 1e9) if spec.cpu else None,
            cpu_shares=spec.cpu_shares,
            pids_limit=1024,
            ulimits=[Ulimit(name="nofile", soft=1024, hard=1024)],
            cap_drop=list(confined.cap_drop),
            security_opt=["no-new-privileges:true"] if confined.no_new_privileges else None,
            log_config=LogConfig(type="json-file"),
            device_requests=gpus,
        )

    def bridge_network_id(self) -> str:
        """The id of the confinement's bridge network; `ISOLATED_NETWORK` is created when missing
        (invokers on one host share it; Docker's own `bridge` is used as it is)."""
        if self._bridge_network_id is None:
            name = self.confinement.bridge_network
            found = self._network_named(name)
            if found is None and name == ISOLATED_NETWORK:
                try:
                    self.api.create_network(
                        name,
                        driver="bridge",
                        options=NO_ICC,
                        labels={"tango.network": "actions"},
                        check_duplicate=True,
                    )
                except docker.errors.APIError:
                    pass  # another invoker created it meanwhile
                found = self._network_named(name)
            if found is None:
                raise ContainerError(f"docker network '{name}' does not exist")
            self._bridge_network_id = found
        return self._bridge_network_id

    def _network_named(self, name: str) -> str | None:
        # The engine's name filter matches substrings; several invokers racing to create the
        # network may leave two of that name, and any of them is as good.
        matches = [n["Id"] for n in self.api.networks(names=[name]) if n["Name"] == name]
        return min(matches) if matches else None

    def create(self, spec: ContainerSpec) -> ContainerHandle:
        host_config = self.host_config(spec)
        labels = {"tango.invoker": self.invoker_id, **spec.labels}
        env = {**spec.env, SECRET_ENV: spec.secret} if spec.secret else spec.env
        try:
            created = self.api.create_container(
                spec.image,
                name=spec.name,
                environment=env,
                user=self.confinement.user,
                labels=labels,
                host_config=host_config,
                ports=[RUNTIME_PORT] if spec.network == "bridge" else None,
            )
            self.api.start(created["Id"])
        except docker.errors.ImageNotFound as e:
            raise ContainerError(f"image '{spec.image}' is not available on this host: {e}") from e
        except docker.errors.APIError as e:
            raise ContainerError(f"could not start container {spec.name}: {e}") from e
        cid = created["Id"]
        handle = ContainerHandle(
            cid, spec.name, spec.port, spec.memory, spec.cpu, secret=spec.secret
        )
        handle.extra["log_path"] = os.path.join(
            self.docker_root, "containers", cid, f"{cid}-json.log"
        )
        handle.extra["oom_kills"] = self._oom_kill_count(handle)
        handle.extra["network"] = spec.network
        return handle

    def pause(self, handle: ContainerHandle) -> None:
        self.api.pause(handle.id)

    def resume(self, handle: ContainerHandle) -> None:
        self.api.unpause(handle.id)

    def remove(self, handle: ContainerHandle) -> None:
        fd = handle.extra.pop("log_fd", None)
        if fd is not None:
            os.close(fd)
        try:
            self.api.remove_container(handle.id, force=True)
        except docker.errors.NotFound:
            pass

    def remove_leftovers(self, instance: str | None = None) -> list[str]:
        names = []
        for c in self.api.containers(
            all=True, filters={"label": f"tango.invoker={instance or self.invoker_id}"}
        ):
            try:
                self.api.remove_container(c["Id"], force=True)
            except docker.errors.NotFound:
                continue
            names.append(c["Names"][0].lstrip("/"))
        return names

    # ---- size binding ---------------------------------------------------------------------

    def _cg(self, subsystem: str, handle: ContainerHandle, name: str) -> str:
        return f"{self.cgroup_root}/{subsystem}/{self.cgroup_parent}/{handle.id}/{name}"

    def resize(self, handle: ContainerHandle, cpu: float | None, memory: int) -> float:
        if (cpu, memory) == (handle.cpu, handle.memory):
            return 0.0
        start = time.perf_counter()
        if os.path.exists(self._cg("cpu", handle, "cpu.cfs_quota_us")):
            self._resize_cgroup(handle, cpu, memory)
        else:
            self.resize_sdk(handle, cpu, memory)
        handle.cpu, handle.memory = cpu, memory
        return (time.perf_counter() - start) * 1000.0

    def _resize_cgroup(self, handle: ContainerHandle, cpu: float | None, memory: int) -> None:
        if cpu != handle.cpu:
            if not handle.extra.get("period_set"):
                _write(self._cg("cpu", handle, "cpu.cfs_period_us"), CFS_PERIOD_US)
                handle.extra["period_set"] = True
            quota = -1 if cpu is None else max(int(cpu * CFS_PERIOD_US), 1000)
            _write(self._cg("cpu", handle, "cpu.cfs_quota_us"), quota)
        if memory != handle.memory:
            limit = self._cg("memory", handle, "memory.limit_in_bytes")
            memsw = self._cg("memory", handle, "memory.memsw.limit_in_bytes")
            # memsw must stay >= limit at every step: raise memsw first, lower limit first.
            order = [memsw, limit] if memory > handle.memory else [limit, memsw]
            for path in order:
                if path == limit or os.path.exists(path):
                    _write(path, memory * MB)

    def resize_sdk(self, handle: ContainerHandle, cpu: float | None, memory: int) -> None:
        """Resize through the engine API (`docker update`); the fallback and bench baseline."""
        try:
            self.api.update_container(
                handle.id,
                cpu_period=CFS_PERIOD_US,
                cpu_quota=-1 if cpu is None else int(cpu * CFS_PERIOD_US),
                mem_limit=memory * MB,
                memswap_limit=memory * MB,
            )
        except docker.errors.APIError as e:
            raise ContainerError(
                f"could not resize {handle.name} to cpu {cpu} memory {memory} MB: {e}"
            ) from e
        handle.cpu, handle.memory = cpu, memory

    # ---- usage, logs, OOM (files) ---------------------------------------------------------

    def reset_peak_memory(self, handle: ContainerHandle) -> None:
        try:
            _write(self._cg("memory", handle, "memory.max_usage_in_bytes"), 0)
        except OSError:
            pass

    def usage(self, handle: ContainerHandle) -> UsageSnapshot:
        try:
            return UsageSnapshot(
                _read_int(self._cg("cpuacct", handle, "cpuacct.usage")),
                _read_int(self._cg("memory", handle, "memory.max_usage_in_bytes")),
            )
        except OSError:
            return UsageSnapshot(0, 0)

    def _log_fd(self, handle: ContainerHandle) -> int | None:
        fd = handle.extra.get("log_fd")
        if fd is None:
            try:
                fd = handle.extra["log_fd"] = os.open(handle.extra["log_path"], os.O_RDONLY)
            except FileNotFoundError:
                return None
        return fd

    def log_offset(self, handle: ContainerHandle) -> int:
        fd = self._log_fd(handle)
        return 0 if fd is None else os.fstat(fd).st_size

    def read_logs(self, handle: ContainerHandle, offset: int) -> LogChunk:
        fd = self._log_fd(handle)
        if fd is None:
            return LogChunk(b"", offset)
        data = os.pread(fd, 1 << 20, offset)
        # Only hand out complete lines; a partial last line is read again next time.
        end = data.rfind(b"\n") + 1
        return LogChunk(data[:end], offset + end)

    def _oom_kill_count(self, handle: ContainerHandle) -> int:
        try:
            with open(self._cg("memory", handle, "memory.oom_control")) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def oom_killed(self, handle: ContainerHandle) -> bool:
        # A child process killed by the OOM killer leaves the container running, so the
        # cgroup's kill counter is checked as well as the engine's OOMKilled flag.
        if self._oom_kill_count(handle) > handle.extra.get("oom_kills", 0):
            return True
        try:
            return bool(self.api.inspect_container(handle.id)["State"].get("OOMKilled"))
        except docker.errors.NotFound:
            return False


def _write(path: str, value: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _read_int(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return int(os.read(fd, 64))
    finally:
        os.close(fd)
