"""Profiling jobs held in memory are bounded: the latest job of each workflow while it runs,
and only the newest finished ones beyond that (controller.workflow_service.ProfilingJobs)."""

from __future__ import annotations

import json
import time

from controller.workflow_service import ProfilingJobs

API = "/api/v1/namespaces/_"
CODE = {"exec": {"kind": "python:3.11", "code": "def main(a):\n    return a\n"}}


def _job(state: str = "running", finished: int | None = None) -> dict:
    return {"state": state, "finished": finished}


def test_only_the_newest_finished_jobs_are_kept_and_running_ones_always():
    jobs = ProfilingJobs(keep_finished=2)
    running = [_job() for _ in range(3)]
    for i, job in enumerate(running):
        jobs.start("ns", f"run{i}", job)
    for i in range(5):
        jobs.start("ns", f"wf{i}", _job())
        jobs.latest("ns", f"wf{i}").update(state="done", finished=100 + i)
        jobs.finished()
    assert len(jobs) == 3 + 2
    assert [jobs.latest("ns", f"wf{i}") is not None for i in range(5)] == [False] * 3 + [True] * 2
    assert all(jobs.latest("ns", f"run{i}") is running[i] for i in range(3))


def test_a_new_job_replaces_the_workflows_previous_one():
    jobs = ProfilingJobs(keep_finished=5)
    first, second = _job("done", 1), _job()
    jobs.start("ns", "wf", first)
    jobs.start("ns", "wf", second)
    assert jobs.latest("ns", "wf") is second and len(jobs) == 1


def test_the_workflow_service_forgets_old_finished_jobs(platform, guest):
    client, services, _ = platform
    services.workflows.profiling_jobs.keep_finished = 1
    client.put(f"{API}/actions/a", json=CODE, headers=guest)
    for name in ("wfa", "wfb", "wfc"):
        definition = f"name: {name}\nslo: {{latency: 5000ms}}\nnodes:\n  - {{id: n, action: a}}\n"
        r = client.put(f"{API}/workflows/{name}", json={"definition": definition}, headers=guest)
        assert r.status_code == 200, r.data
        r = client.post(
            f"{API}/workflows/{name}/profile",
            data=json.dumps({"inputs": [{}], "repeats": 1}),
            headers={**guest, "Content-Type": "application/json"},
        )
        assert r.status_code in (200, 202), r.data
        deadline = time.monotonic() + 60
        while True:
            job = client.get(f"{API}/workflows/{name}/profile", headers=guest).json["job"]
            if job["finished"] is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert job["finished"] is not None, job
    statuses = [
        client.get(f"{API}/workflows/{n}/profile", headers=guest).json["job"]
        for n in ("wfa", "wfb", "wfc")
    ]
    assert [s is not None for s in statuses] == [False, False, True]
    assert len(services.workflows.profiling_jobs) == 1
