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
    assert hc["NetworkMode"] == "bridge"
    assert hc["PortBindings"] == {
        f"{RUNTIME_PORT}/tcp": [{"HostIp": "127.0.0.1", "HostPort": "13997"}]
    }
    assert hc["ExtraHosts"] == ["host.docker.internal:host-gateway"]
