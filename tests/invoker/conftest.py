"""Fixtures of the invoker's Docker suites."""

from __future__ import annotations

import pytest

from tests.conftest import require

IMAGE = "tango/action-python-v3.11:latest"


@pytest.fixture(scope="module")
def runtime_image(docker_client) -> str:
    """The Python runtime image, which the invoker's containers run (built by docker/build-images.sh)."""
    try:
        docker_client.images.get(IMAGE)
        have_image = True
    except Exception:
        have_image = False
    require(have_image, f"the runtime image {IMAGE} (docker/build-images.sh)")
    return IMAGE
