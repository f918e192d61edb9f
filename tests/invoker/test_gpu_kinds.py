"""GPU hosts: a kind's runtime image can be overridden and its containers given the host's GPUs."""

from __future__ import annotations

import pytest

from invoker.backend import ContainerSpec
from invoker.config import PYTHON_IMAGE
from invoker.server import parse_config

CUDA_IMAGE = "tango/action-vlm:cuda"


def test_runtime_image_override_and_gpu_kind_reach_the_config():
    config = parse_config(["--runtime-image", f"vlm={CUDA_IMAGE}", "--gpu-kind", "vlm"])
    assert config.image_for("vlm", {}) == CUDA_IMAGE
    assert config.image_for("python:3.11", {}) == PYTHON_IMAGE  # other kinds keep their images
    assert config.gpu_kinds == ("vlm",)
    assert config.wants_gpus(CUDA_IMAGE) and not config.wants_gpus(PYTHON_IMAGE)
    assert not parse_config([]).wants_gpus("tango/action-vlm:cpu")  # no GPUs unless asked


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--runtime-image", "vlm"], "KIND=IMAGE"),
        (["--runtime-image", "=img"], "KIND=IMAGE"),
        (["--gpu-kind", "cuda-thing"], "not a runtime kind"),
    ],
)
def test_bad_gpu_options_are_refused_with_what_is_expected(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse_config(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.docker
def test_gpu_containers_ask_docker_for_every_gpu(docker_client):
    from invoker.docker_backend import DockerBackend

    backend = DockerBackend("pytest-gpu", client=docker_client)
    spec = ContainerSpec(name="x", image=CUDA_IMAGE, port=13999, memory=4096, cpu=None, gpus=True)
    requests = backend.host_config(spec)["DeviceRequests"]
    assert [(r["Count"], r["Capabilities"]) for r in requests] == [(-1, [["gpu"]])]
    plain = backend.host_config(
        ContainerSpec(name="y", image=PYTHON_IMAGE, port=13998, memory=256, cpu=1.0)
    )
    assert not plain.get("DeviceRequests")
    assert plain["NanoCpus"] == 10**9 and plain["NetworkMode"] == "host"


def test_controller_max_action_memory_is_configurable_for_gpu_model_actions():
    from controller.entities import validate_limits
    from controller.errors import ApiError
    from controller.server import parse_args

    default = parse_args(["--data-dir", "/tmp/x"]).limits
    with pytest.raises(ApiError, match="memory"):
        validate_limits({"memory": 32768}, default)
    big = parse_args(["--data-dir", "/tmp/x", "--max-action-memory", "65536"]).limits
    assert validate_limits({"memory": 32768}, big)["memory"] == 32768
    with pytest.raises(SystemExit):
        parse_args(["--max-action-memory", "64"])
