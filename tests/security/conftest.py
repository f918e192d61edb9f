"""Security test fixtures: the controller unit fixtures (a Flask test client on a fresh store with
a fake invoker) and a second tenant beside ``guest``."""

from __future__ import annotations

import pytest

from tests.controller.conftest import FakeInvoker, basic, guest, platform  # noqa: F401

API = "/api/v1/namespaces/_"
CODE = {"exec": {"kind": "python:3.11", "code": "def main(a):\n    return a\n"}}


@pytest.fixture
def other(platform):  # noqa: F811
    """``nsb``: another tenant's key (headers), with a private action ``secret``, a private
    package ``vault`` holding ``vault/gold``, and a published package ``pub`` holding ``pub/tool``."""
    client, services, _ = platform
    nsb = basic(services.subjects.create("nsb").api_key)
    client.put(f"{API}/actions/secret", json=CODE, headers=nsb)
    client.put(f"{API}/packages/vault", json={}, headers=nsb)
    client.put(f"{API}/actions/vault/gold", json=CODE, headers=nsb)
    client.put(f"{API}/packages/pub", json={"publish": True}, headers=nsb)
    client.put(f"{API}/actions/pub/tool", json=CODE, headers=nsb)
    return nsb


def ran(fake: FakeInvoker) -> list[str]:
    """Paths of the actions the fake invoker was asked to run."""
    return [r["action"]["path"] for r in fake.requests]


@pytest.fixture(scope="session")
def standalone(tmp_path_factory):
    """A real ``tango standalone`` (controller, invoker, Docker containers) for the tests that
    go through real HTTP on 127.0.0.1 (tests.e2e.conftest.Platform)."""
    from tests.e2e.conftest import start_platform

    p = start_platform(tmp_path_factory.mktemp("security-standalone"))
    yield p
    p.process.stop()
