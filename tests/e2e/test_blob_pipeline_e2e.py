"""End to end: the Redis-backed workflow from the CLI alone, on real containers and a real
Redis. ``tango workflow deploy blob-pipeline`` puts the Redis address on the package as
configuration; a run moves the blob through Redis (upload, replicate, crunch), leaves no keys
behind, and a crunch sized below what its input needs runs out of memory and says so."""

from __future__ import annotations

import json

import pytest

from tests.conftest import require
from tests.workflows.test_blob_pipeline import URL, redis_up

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]

WORKFLOW = "blob-pipeline"


def invoke(platform, request: dict, policy: str) -> dict:
    path = platform.wskprops.parent / "blob-input.json"
    path.write_text(json.dumps(request))
    done = platform.tango(
        "--json",
        "workflow",
        "invoke",
        WORKFLOW,
        "-P",
        str(path),
        "-b",
        "--policy",
        policy,
        timeout=180,
        check=False,
    )
    return json.loads(done.stdout)


def test_blob_pipeline_moves_data_through_redis(platform):
    require(redis_up(), "Redis on 127.0.0.1:6379")
    out = platform.tango("workflow", "deploy", WORKFLOW)
    assert f"deployed workflow {WORKFLOW}" in out.stdout
    package = platform.tango_json("package", "get", WORKFLOW)
    assert {"key": "redis", "value": URL} in package["parameters"]

    run = invoke(platform, {"seed": 11, "mb": 4, "link_mb_s": 400}, "early-max")
    assert run["status"] == "success", run
    result = run["result"]
    assert result["mb"] == 4 and result["deleted"] == 6 and result["crc"] != 0
    crunch = next(n for n in run["nodes"] if n["id"] == "crunch")
    record = platform.tango_json("activation", "get", crunch["activationIds"][0])
    prefix_gone = record["response"]["result"]["words"] == 4 * (1 << 18)
    assert prefix_gone  # crunch read all 4 chunks from Redis; report deleted them (6 keys)

    # 160 MB at 256 MB of memory: crunch holds about twice its input and is killed.
    small = invoke(platform, {"seed": 12, "mb": 160, "link_mb_s": 2000}, "fixed:small")
    assert small["status"] == "failed" and small["failedNode"] == "crunch", small
    assert "memory" in small["error"], small["error"]
