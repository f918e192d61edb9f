"""Container networking: host (default) or Docker's bridge with the runtime published on loopback."""

from __future__ import annotations

import pytest

from invoker.backend import RUNTIME_PORT, ContainerSpec
from invoker.config import PYTHON_IMAGE, InvokerConfig
from invoker.server import parse_config
from invoker.service import container_env


def test_runtime_listens_on_its_loopback_port_on_the_host_network():
    env = container_env(InvokerConfig(api_host="http://127.0.0.1:3233"), 12007)
    assert env == {
        "__OW_PROXY_HOST": "127.0.0.1",
        "__OW_PROXY_PORT": "12007",
        "__OW_API_HOST": "http://127.0.0.1:3233",
    }


def test_on_the_bridge_the_runtime_listens_inside_and_reaches_a_loopback_api_through_the_gateway():
    cfg = InvokerConfig(api_host="http://localhost:3233", container_network="bridge")
    env = container_env(cfg, 12007)
    assert env == {
        "__OW_PROXY_HOST": "0.0.0.0",
        "__OW_PROXY_PORT": str(RUNTIME_PORT),
        "__OW_API_HOST": "http://host.docker.internal:3233",
    }
    other = InvokerConfig(api_host="https://api.example.com", container_network="bridge")
    assert container_env(other, 1)["__OW_API_HOST"] == "https://api.example.com"


def test_network_option_parses_and_refuses_unknown_modes(capsys):
    assert parse_config([]).container_network == "host"
    assert parse_config(["--container-network", "bridge"]).container_network == "bridge"
    with pytest.raises(SystemExit):
        parse_config(["--container-network", "overlay"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.docker
def test_bridge_containers_publish_the_runtime_port_on_loopback_only(docker_client):
    from invoker.docker_backend import DockerBackend

    backend = DockerBackend("pytest-net", client=docker_client)
    hc = backend.host_config(
        ContainerSpec(
            name="b", image=PYTHON_IMAGE, port=13997, memory=256, cpu=1.0, network="bridge"
        )
    )
    # Tango's own bridge, on which containers cannot reach each other (defence in depth: the
    # runtime secret is the guarantee).
    assert hc["NetworkMode"] == backend.bridge_network_id()
    network = docker_client.networks.get(hc["NetworkMode"])
    assert network.name == "tango-actions"
    assert network.attrs["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    assert hc["PortBindings"] == {
        f"{RUNTIME_PORT}/tcp": [{"HostIp": "127.0.0.1", "HostPort": "13997"}]
    }
    assert hc["ExtraHosts"] == ["host.docker.internal:host-gateway"]


@pytest.mark.docker
def test_confinement_of_every_container_and_the_benchmarks_baseline(docker_client):
    from invoker.docker_backend import Confinement, DockerBackend

    spec = ContainerSpec(name="c", image=PYTHON_IMAGE, port=1, memory=256, cpu=None)
    hc = DockerBackend("pytest-conf", client=docker_client).host_config(spec)
    assert hc["CapDrop"] == ["ALL"] and hc["SecurityOpt"] == ["no-new-privileges:true"]
    assert hc["PidsLimit"] == 1024
    before = Confinement(cap_drop=("NET_RAW", "NET_ADMIN"), no_new_privileges=False, user="root")
    hc = DockerBackend("pytest-conf", client=docker_client, confinement=before).host_config(spec)
    assert hc["CapDrop"] == ["NET_RAW", "NET_ADMIN"] and "SecurityOpt" not in hc
