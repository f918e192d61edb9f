"""The Savings page shows the simulator's prediction per policy beside the measured figures,
on request (a link), once the workflow has profiles."""

from __future__ import annotations

import time

from tests.console.test_workflow_pages import deploy, run


def profile(console):
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


def test_savings_page_shows_the_simulated_prediction_on_request(console):
    deploy(console)
    run(console, "early-max")
    console.login()
    page = console.get("/console/savings?workflow=thumbs").get_data(as_text=True)
    assert 'id="simulate-link"' in page and 'id="prediction-table"' not in page
    profile(console)
    page = console.get("/console/savings?workflow=thumbs&predict=1").get_data(as_text=True)
    assert 'id="prediction-table"' in page and "Simulated (janus_sim)" in page
    data = console.get("/console/api/savings?workflow=thumbs&predict=1").get_json()["data"]
    predicted = data["prediction"]["policies"]
    assert predicted["early-max"]["runs"] == 300
    assert 0.0 <= predicted["early-max"]["sloAttainment"] <= 1.0
    assert predicted["late"]["coreSecondsPerRun"] <= predicted["early-max"]["coreSecondsPerRun"]
