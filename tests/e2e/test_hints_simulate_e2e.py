"""``tango hints simulate`` end to end: a two-function workflow created, profiled on real
containers and simulated through the real CLI of a running platform (its REST endpoint
``POST .../workflows/{name}/simulate`` behind it): a table per policy, the progress bar, the
price-vs-SLO plot, and 4xx answers for bad input and for a workflow without profiles."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(400)]

SPIN = (
    "import time\n"
    "def main(args):\n"
    "    end = time.process_time() + args['n'] / 1000.0\n"
    "    x = 0\n"
    "    while time.process_time() < end:\n"
    "        x += 1\n"
    "    return {'n': args['n'], 'x': x}\n"
)

WORKFLOW = """
name: {name}
slo: {{latency: 2000ms, percentile: 99}}
nodes:
  - id: first
    action: spin
  - id: second
    action: spin
    after: [first]
"""


@pytest.fixture(scope="module")
def ns(platform):
    return platform.in_new_namespace("simulate")


@pytest.fixture(scope="module")
def profiled(ns, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("simulate")
    (tmp / "spin.py").write_text(SPIN)
    ns.tango("action", "create", "spin", str(tmp / "spin.py"))
    (tmp / "wf.yaml").write_text(WORKFLOW.format(name="simwf"))
    ns.tango("workflow", "create", "simwf", str(tmp / "wf.yaml"))
    inputs = tmp / "inputs.jsonl"
    inputs.write_text("".join(json.dumps({"n": n}) + "\n" for n in (50, 200)))
    ns.tango(
        "hints",
        "profile",
        "simwf",
        "--inputs",
        str(inputs),
        "--options",
        "small,large",
        "--repeats",
        "2",
        timeout=300,
    )
    return tmp


def test_simulate_predicts_every_policy_from_the_profiles(ns, profiled):
    cp = ns.tango(
        "hints",
        "simulate",
        "simwf",
        "--rate",
        "2",
        "--cores",
        "4",
        "--requests",
        "300",
        "--policies",
        "early-max,fixed:small,early-static,oracle",
    )
    assert "simulations" in cp.stderr  # the progress bar
    assert "4 cores on 1 invoker(s) (simulated)" in cp.stdout, cp.stdout
    rows = {}
    for line in cp.stdout.splitlines():
        m = re.match(
            r"(\S+)\s+([\d.]+)\s+\S+\s+\S+\s+([\d.]+)%\s+([\d.]+)\s+([\d.]+)$", line.strip()
        )
        if m:
            rows[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
    assert set(rows) == {"early-max", "fixed:small", "early-static", "oracle"}, cp.stdout
    # half a core costs fewer core-seconds per run than two cores on a CPU-bound function
    # only if it is not 4x slower: the simulation must bill each at its measured run time
    assert rows["fixed:small"][2] != rows["early-max"][2]
    assert all(0.0 <= att <= 100.0 for _, att, _ in rows.values())
    # the JSON answer is the REST endpoint's
    doc = ns.tango_json(
        "hints", "simulate", "simwf", "--requests", "50", "--policies", "early-max", "--slo", "900"
    )
    assert doc["sloMs"] == 900 and doc["requests"] == 50
    summary = doc["policies"]["early-max"]
    assert summary["runs"] == 50 and 0 <= summary["sloAttainment"] <= 1
    assert summary["p99_ms"] >= summary["p50_ms"] > 0


def test_simulate_plots_price_against_slo(ns, profiled):
    png = profiled / "sweep.png"
    cp = ns.tango(
        "hints",
        "simulate",
        "simwf",
        "--requests",
        "100",
        "--policies",
        "early-max,fixed:small",
        "--plot",
        str(png),
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "10/10 simulations" in cp.stderr  # 5 SLOs x 2 policies


def test_simulate_refuses_bad_input_with_4xx(ns, profiled):
    bad = ns.tango("hints", "simulate", "simwf", "--requests", "0", check=False)
    assert bad.returncode != 0 and "'requests' must be an integer from 1" in bad.stderr
    r = ns.api("POST", "/api/v1/namespaces/_/workflows/simwf/simulate", json={"policies": ["nope"]})
    assert r.status_code == 400 and "policies" in r.json()["error"] and "code" in r.json()
    (profiled / "wf2.yaml").write_text(WORKFLOW.format(name="fresh"))
    ns.tango("workflow", "create", "fresh", str(profiled / "wf2.yaml"))
    none = ns.tango("hints", "simulate", "fresh", check=False)
    assert none.returncode != 0 and "no profiles yet" in none.stderr
