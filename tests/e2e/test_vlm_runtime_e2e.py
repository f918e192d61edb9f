"""The Nova VLM runtime deployed as an action of kind ``vlm`` and invoked through the platform
on the CPU (tiny preset, random weights): screenshot + instruction in, action text out."""

from __future__ import annotations

import base64
import io
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from common.platform_process import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def vlm_platform(platform):
    subprocess.run(
        ["bash", str(REPO / "docker" / "build-images.sh"), "vlm"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return platform.in_new_namespace("vlm")


def screenshot(w: int, h: int) -> str:
    img = Image.new("RGB", (w, h), (240, 240, 240))
    for x in range(10, w - 10, 20):
        img.putpixel((x, h // 2), (20, 20, 200))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_vlm_action_end_to_end(vlm_platform, tmp_path):
    p = vlm_platform
    config = tmp_path / "nova.json"
    config.write_text(json.dumps({"preset": "tiny", "policy": "nova", "max_batch": 4}))
    p.tango(
        "action",
        "create",
        "agent",
        str(config),
        "--kind",
        "vlm",
        "--memory",
        "512",
        "--concurrency",
        "8",
        "--timeout",
        "120000",
    )
    body = {"image": screenshot(160, 96), "prompt": "Tap the blue button", "max_tokens": 6}
    r = p.api("POST", "/api/v1/namespaces/_/actions/agent?blocking=true", json=body)
    assert r.status_code == 200, r.text
    result = r.json()["response"]["result"]
    assert len(result["token_ids"]) == 6 and isinstance(result["text"], str)
    assert {"vision_ms", "prefill_ms", "ttft_ms", "tpot_ms"} <= set(result["timings"])
    # several concurrent requests are served by the same warm runtime
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(
                lambda i: p.api(
                    "POST",
                    "/api/v1/namespaces/_/actions/agent?blocking=true&result=true",
                    json={**body, "prompt": f"step {i}"},
                ),
                range(4),
            )
        )
    assert all(x.status_code == 200 and len(x.json()["token_ids"]) == 6 for x in replies)
    bad = p.api(
        "POST",
        "/api/v1/namespaces/_/actions/agent?blocking=true&result=true",
        json={"image": "not base64!", "prompt": "x"},
    )
    assert bad.status_code == 502 and "image" in bad.json()["error"]
