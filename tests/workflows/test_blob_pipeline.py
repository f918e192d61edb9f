"""blob-pipeline moves its data through a real Redis (127.0.0.1:6379, from the set-up): run
locally function by function, its keys are written, read by both branches and deleted; the
Redis address is configuration (deploy.json parameters, overridden by TANGO_REDIS_URL)."""

import socket

import pytest

from tests.conftest import require
from tests.workflows.test_shipped import run_locally
from workflows.actionlib.store import Redis
from workflows.packaging import load_bundle

URL = "redis://127.0.0.1:6379/0"


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), 1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def redis():
    require(redis_up(), "Redis on 127.0.0.1:6379")
    with Redis(URL) as r:
        yield r


def test_blob_moves_through_redis_and_is_cleaned_up(redis, tmp_path, monkeypatch):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    monkeypatch.setenv("TANGO_CGROUP_ROOT", str(tmp_path))
    out = run_locally("blob-pipeline", {"seed": 1, "mb": 3, "link_mb_s": 500, "redis": URL})
    prefix = out["upload"]["prefix"]
    assert out["upload"]["chunks"] == 3 and out["crunch"]["words"] == 3 * (1 << 18)
    assert out["report"]["crc"] == out["replicate"]["crc"] != 0
    assert out["report"]["deleted"] == 5  # 3 chunks, the replica mark, the summary
    assert redis.get(f"{prefix}:raw:0") is None
    again = run_locally("blob-pipeline", {"seed": 1, "mb": 3, "link_mb_s": 500, "redis": URL})
    assert again["replicate"]["crc"] == out["replicate"]["crc"]  # same seed, same blob
    assert again["upload"]["prefix"] != prefix  # runs never share keys


def test_redis_errors_and_bad_urls_are_reported(redis):
    with pytest.raises(ValueError, match="redis://host:port/db"):
        Redis("http://127.0.0.1:6379")
    with pytest.raises(RuntimeError, match="wrong number of arguments|ERR"):
        redis.command("GET")


def test_the_redis_address_is_configuration(monkeypatch):
    monkeypatch.delenv("TANGO_REDIS_URL", raising=False)
    assert load_bundle("blob-pipeline").parameters == {"redis": URL}
    monkeypatch.setenv("TANGO_REDIS_URL", "redis://10.0.0.5:6380/2")
    assert load_bundle("blob-pipeline").parameters == {"redis": "redis://10.0.0.5:6380/2"}
    assert load_bundle("ml-pipeline").parameters == {}
