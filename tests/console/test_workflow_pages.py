"""Workflow pages: DAG, runs with timelines, SLO attainment, hints editing, profiling,
synthesis and savings."""

import re
import time

from tests.console.conftest import CODE
from tests.thumbs_workflow import HINTS as RESIZE_HINTS
from tests.thumbs_workflow import WORKFLOW

HINTS = RESIZE_HINTS + "\nfunction classify\n  otherwise use small\n"


def deploy(console, hints=True):
    for a in ("resize", "classify"):
        console.api("PUT", f"/api/v1/namespaces/guest/actions/{a}", json=CODE)
    r = console.api(
        "PUT", "/api/v1/namespaces/guest/workflows/thumbs", json={"definition": WORKFLOW}
    )
    assert r.status_code == 200, r.data
    if hints:
        r = console.api(
            "PUT", "/api/v1/namespaces/guest/workflows/thumbs/hints", json={"hints": HINTS}
        )
        assert r.status_code == 200, r.data


def run(console, policy):
    r = console.api(
        "POST", f"/api/v1/namespaces/guest/workflows/thumbs?blocking=true&policy={policy}", json={}
    )
    assert r.status_code == 200, r.data
    return r.get_json()


def test_workflow_page_draws_the_dag_runs_and_slo(console):
    deploy(console)
    late = run(console, "late")
    run(console, "early-max")
    console.login()
    assert b"thumbs" in console.get("/console/workflows").data
    page = console.get("/console/workflows/thumbs").get_data(as_text=True)
    assert (
        page.count('class="node"') == 2
        and 'data-node="resize"' in page
        and 'data-node="classify"' in page
    )
    assert page.count('class="edge"') == 1
    assert late["runId"][:12] in page and 'class="bar"' in page
    assert "small 0.5 cpu/256 MB" in page and "ms left" in page  # chosen size and remaining budget
    assert "SLO 2500 ms" in page
    slo = re.search(r'<table class="grid" id="slo">.*?</table>', page, re.S).group(0)
    assert "late" in slo and "early-max" in slo and "100.0 %" in slo
    data = console.get("/console/api/workflows/thumbs").get_json()
    assert {r["policy"] for r in data["data"]["runs"]} == {"late", "early-max"}
    assert set(data["fragments"]) == {"live-runs", "live-slo"}


def test_run_page_lists_each_node_with_its_decision(console):
    deploy(console)
    rec = run(console, "late")
    console.login()
    page = console.get(f"/console/workflows/thumbs/runs/{rec['runId']}").get_data(as_text=True)
    nodes = re.search(r'<table class="grid" id="nodes">.*?</table>', page, re.S).group(0)
    assert "resize" in nodes and "classify" in nodes and "small: 0.5 cpu / 256 MB" in nodes
    act = rec["nodes"][0]["activationIds"][0]
    assert act[:10] in nodes
    assert console.get("/console/workflows/thumbs/runs/nope").status_code == 404


def test_start_a_run_from_the_form(console):
    deploy(console, hints=False)
    console.login()
    r = console.post("/console/workflows/thumbs/run", {"input": "{}", "policy": "early-max"})
    assert r.status_code == 302
    for _ in range(100):
        runs = console.services.workflows.list_runs("guest", "thumbs", 5, 0)
        if runs and runs[0]["status"] != "running":
            break
        time.sleep(0.05)
    assert runs[0]["policy"] == "early-max" and runs[0]["status"] == "success"
    r = console.post("/console/workflows/thumbs/run", {"input": "{}", "policy": "late"})
    assert r.status_code == 400 and b"has no hints" in r.data
    r = console.post("/console/workflows/thumbs/run", {"input": "{bad", "policy": "early-max"})
    assert r.status_code == 400 and b"not valid JSON" in r.data


def test_hint_errors_are_shown_at_their_line_and_not_saved(console):
    deploy(console)
    console.login()
    page = console.get("/console/workflows/thumbs/hints").get_data(as_text=True)
    assert "function resize" in page and "0 error(s)" in page
    broken = HINTS.replace("use large", "use huge", 1)
    r = console.post("/console/workflows/thumbs/hints", {"hints": broken, "action": "save"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "not saved" in page
    line = re.search(r'<li class="has-error"><span class="ln">(\d+)</span>', page)
    assert line and int(line.group(1)) == 7
    assert re.search(r"line 7, column \d+: error: .*huge", page)
    assert console.services.workflows.get_hints("guest", "thumbs")["hints"] == HINTS
    r = console.client.post(
        "/console/api/workflows/thumbs/hints/check",
        json={"hints": broken},
        headers={"X-CSRF-Token": console.csrf},
    )
    assert r.status_code == 200 and r.get_json()["diagnostics"][0]["line"] == 7


def test_hints_are_saved_and_checked(console):
    deploy(console, hints=False)
    console.login()
    assert b"no hints yet" in console.get("/console/workflows/thumbs/hints").data
    r = console.post("/console/workflows/thumbs/hints", {"hints": HINTS, "action": "check"})
    assert r.status_code == 200 and b"No errors" in r.data
    assert console.services.workflows.list("guest", 10, 0)[0]["hasHints"] is False
    r = console.post("/console/workflows/thumbs/hints", {"hints": HINTS, "action": "save"})
    assert r.status_code == 200 and b"Hints saved" in r.data
    assert console.services.workflows.get_hints("guest", "thumbs")["hints"] == HINTS


def test_profiling_progress_then_synthesis_diff_and_adoption(console):
    deploy(console)
    console.login()
    r = console.post("/console/workflows/thumbs/synthesize", {"percentile": ""})
    assert r.status_code == 409 and b"no profiles yet" in r.data
    r = console.post(
        "/console/workflows/thumbs/profile", {"inputs": '{"n": 1}\nnot json\n[1]', "repeats": "2"}
    )
    page = r.get_data(as_text=True)
    assert (
        r.status_code == 400
        and "line 2: not valid JSON" in page
        and "line 3: must be a JSON object" in page
    )
    r = console.post(
        "/console/workflows/thumbs/profile", {"inputs": '{"n": 1}\n{"n": 2}', "repeats": "2"}
    )
    assert r.status_code == 302
    for _ in range(200):
        st = console.get("/console/api/workflows/thumbs/profile").get_json()
        if st["data"]["job"]["state"] != "running":
            break
        time.sleep(0.05)
    assert st["data"]["job"]["state"] == "done", st
    assert (
        'data-state="done"' in st["fragments"]["live-profile"]
        and "resize" in st["fragments"]["live-profile"]
    )
    r = console.post("/console/workflows/thumbs/synthesize", {"percentile": "99"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and ('id="hint-diff"' in page or "same as the active" in page)
    synthesized = console.services.workflows.synthesize("guest", "thumbs", 99)["hints"]
    r = console.post("/console/workflows/thumbs/hints", {"hints": synthesized, "action": "save"})
    assert r.status_code == 200
    assert console.services.workflows.get_hints("guest", "thumbs")["hints"] == synthesized
    r = console.post("/console/workflows/thumbs/synthesize", {"percentile": "high"})
    assert r.status_code == 400 and b"must be a number" in r.data


def test_savings_chart_compares_policies_with_early_binding(console):
    deploy(console)
    for policy in ("late", "early-max", "late", "early-max"):
        run(console, policy)
    console.login()
    page = console.get("/console/savings").get_data(as_text=True)
    assert 'data-series="late"' in page and 'data-series="early-max"' in page
    assert 'stroke-dasharray="6 4"' in page  # the baseline is dashed
    assert re.search(r'<span class="badge ok">[\d.]+ % less</span>', page)
    data = console.get("/console/api/savings?workflow=thumbs").get_json()["data"]
    rows = {p["policy"]: p for p in data["policies"]}
    assert rows["late"]["runs"] == 2 and rows["early-max"]["runs"] == 2
    assert rows["late"]["meanCoreSeconds"] < rows["early-max"]["meanCoreSeconds"]
    assert rows["late"]["vs:early-max"] > 0
    r = console.get("/console/savings?workflow=ghost")
    assert r.status_code == 404 and b"No workflow" in r.data
