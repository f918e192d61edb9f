"""Blackbox actions: the tango/dockerskeleton flavour of the proxy runs an executable ``exec``.

Runs locally (proxy with TANGO_EXEC_ACTIONS=1) and in the real skeleton image; one docker-only
test builds a user image FROM the skeleton with its own /action/exec, the ``--docker`` path.
"""

import base64
import io
import os
import uuid
import zipfile

import pytest

SHELL_EXEC = """#!/bin/sh
echo "log line"
echo "to stderr" >&2
echo "{\\"args\\": $1, \\"activation\\": \\"$__OW_ACTIVATION_ID\\"}"
"""

PYTHON_EXEC = """#!/usr/bin/env python3
import json, sys
args = json.loads(sys.argv[1])
print("working on", args["name"])
print(json.dumps({"greeting": "Hello " + args["name"]}))
"""


def test_text_exec_gets_args_and_context_and_its_last_line_is_the_result(start_proxy):
    proxy = start_proxy(exec_actions=True)
    assert proxy.init(SHELL_EXEC)[0] == 200
    status, result = proxy.run({"x": [1, "é"]}, activation_id="act-1")
    assert (status, result) == (200, {"args": {"x": [1, "é"]}, "activation": "act-1"})
    assert proxy.logs("stdout", sentinels=1).splitlines() == [
        "log line",
        "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX",
    ]
    assert "to stderr" in proxy.logs("stderr", sentinels=1)


def test_zip_holding_exec(start_proxy):
    proxy = start_proxy(exec_actions=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("exec", PYTHON_EXEC)
    assert proxy.init(base64.b64encode(buffer.getvalue()).decode(), binary=True)[0] == 200
    assert proxy.run({"name": "box"}) == (200, {"greeting": "Hello box"})


def test_exec_without_json_last_line_is_an_invalid_response(start_proxy):
    proxy = start_proxy(exec_actions=True)
    proxy.init("#!/bin/sh\necho 'not json'\nexit 2\n")
    assert proxy.run({}) == (502, {"error": "The action did not return a dictionary or array."})
    stderr = proxy.logs("stderr", sentinels=1)
    assert "exit" in stderr and "code 2" in stderr and "not json" in stderr


def test_skeleton_without_code_or_prebuilt_exec_refuses_init(start_proxy):
    proxy = start_proxy(exec_actions=True)
    assert proxy.init("") == (403, {"error": "Missing main/no code to execute."})


@pytest.mark.docker
def test_user_image_built_from_skeleton_runs_its_own_exec(
    runtime_images, start_image, docker_client, tmp_path
):
    (tmp_path / "exec").write_text(PYTHON_EXEC)
    os.chmod(tmp_path / "exec", 0o755)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {runtime_images['skeleton']}\nCOPY exec /action/exec\n"
    )
    client = docker_client
    tag = f"tango-test/blackbox-{uuid.uuid4().hex[:8]}:latest"
    client.images.build(path=str(tmp_path), tag=tag, rm=True)
    try:
        proxy = start_image(tag)
        assert proxy.init("")[0] == 200
        assert proxy.run({"name": "image"}) == (200, {"greeting": "Hello image"})
        proxy.stop()
    finally:
        client.images.remove(tag, force=True)
