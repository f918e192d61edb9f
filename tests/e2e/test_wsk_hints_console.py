"""Profiling as a new user meets it (issue 18, items 5 and 8), through the real CLI and the
console of a running platform: an option that runs out of memory is reported with its reason
(CLI summary and the console's Hints page), ``hints synthesize`` during a running profile says
so, the progress bar estimates the time left; console details (favicon, 404 page, profiling
placeholder, where an admin lands)."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time

import pytest
import requests

from common.platform_process import REPO
from controller.config import SYSTEM_KEY

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HOG = (
    "import time\n"
    "def main(args):\n"
    "    block = bytearray(args['mb'] * 1024 * 1024)\n"
    "    for i in range(0, len(block), 4096):\n"
    "        block[i] = 1\n"
    "    time.sleep(args.get('sleep', 0))\n"
    "    return {'touched': len(block)}\n"
)
WORKFLOW = """\
name: {name}
slo: {{latency: 60000ms, percentile: 99}}
nodes:
  - id: hog
    action: {action}
"""


@pytest.fixture(scope="module")
def ns(platform):
    return platform.in_new_namespace("wskhints")


def console_session(platform, key: str) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{platform.apihost}/console/login", data={"key": key}, timeout=60)
    assert r.status_code == 200, r.text
    return s


def test_infeasible_options_are_explained_and_synthesis_waits_for_profiling(ns, tmp_path):
    (tmp_path / "hog.py").write_text(HOG)
    ns.tango("action", "create", "hog", str(tmp_path / "hog.py"), "--memory", "512")
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(name="hogwf", action="hog"))
    ns.tango("workflow", "create", "hogwf", str(tmp_path / "wf.yaml"))
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(json.dumps({"mb": 400, "sleep": 2}) + "\n")
    env = {**os.environ, "WSK_CONFIG_FILE": str(ns.wskprops)}
    profiling = subprocess.Popen(
        [sys.executable, "-m", "cli", "hints", "profile", "hogwf", "--inputs", str(inputs)]
        + ["--options", "small,medium", "--repeats", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            r = ns.api("GET", "/api/v1/namespaces/_/workflows/hogwf/profile")
            if r.status_code == 200 and (r.json().get("job") or {}).get("state") == "running":
                break
            time.sleep(0.2)
        early = ns.tango("hints", "synthesize", "hogwf", check=False)
        out, err = profiling.communicate(timeout=300)
    finally:
        if profiling.poll() is None:
            profiling.kill()
    assert early.returncode != 0
    assert "profiling of workflow 'hogwf' is still running" in early.stderr, early.stderr
    assert "no profiles yet" not in early.stderr
    assert profiling.returncode == 0, err
    assert re.search(r"\d+/\d+ runs, took \d+", err), err
    assert re.search(r"hog\s+small\s+0\s+-\s+-", out), out
    reason = re.search(
        r"infeasible: hog at option 'small' failed on profiling input #\d+: (.+)", out
    )
    assert reason and "memory" in reason.group(1), out
    # the console's Hints page shows the same reason
    page = console_session(ns, ns.auth).get(f"{ns.apihost}/console/workflows/hogwf/hints").text
    page = html.unescape(page)
    assert 'id="infeasible"' in page and reason.group(1).split(" (and")[0] in page
    assert "megapixels" not in page and "as hogwf receives it" in page
    assert re.search(r'id="profile-eta">took \d+', page), page


def test_console_details(platform):
    icon = requests.get(f"{platform.apihost}/favicon.ico", timeout=60)
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
    missing = requests.get(f"{platform.apihost}/console/no-such-page", timeout=60)
    assert missing.status_code == 404 and "menu above" not in missing.text
    assert "after logging in" in missing.text
    admin = console_session(platform, SYSTEM_KEY)
    landing = admin.get(f"{platform.apihost}/console/", timeout=60).text
    selected = re.search(r'<option value="([^"]+)" selected>', landing)
    assert selected and selected.group(1) != "whisk.system", landing[:2000]
    assert "menu above" in admin.get(f"{platform.apihost}/console/nope", timeout=60).text
