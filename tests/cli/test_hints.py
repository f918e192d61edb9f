"""``tango hints ...``: local checking through hint_dsl, and the hints/profile/synthesize API."""

import json

import pytest

from cli.commands import hints as hints_cmd
from tests.cli.conftest import API, Reply
from tests.thumbs_workflow import HINTS, WORKFLOW


@pytest.fixture
def hint_file(tmp_path):
    path = tmp_path / "thumbs.hints"
    path.write_text(HINTS)
    return path


def test_check_a_valid_file(tango, hint_file):
    run = tango("hints", "check", str(hint_file))
    assert (run.code, run.out) == (0, f"ok: {hint_file} has no errors\n")


def test_check_reports_file_line_column_and_exits_1(tango, tmp_path):
    bad = tmp_path / "bad.hints"
    bad.write_text(HINTS.replace("use large", "use huge"))
    run = tango("hints", "check", str(bad))
    assert run.code == 1
    line = run.out.splitlines()[0]
    assert line.startswith(f"{bad}:7:") and "huge" in line
    assert "1 error(s)" in run.err


def test_check_against_the_workflow_functions(tango, hint_file, tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        WORKFLOW.replace("id: resize, action: resize", "id: scale, action: resize").replace(
            "after: [resize]", "after: [scale]"
        )
    )
    run = tango("hints", "check", str(hint_file), "--workflow", str(wf))
    assert run.code == 1 and "resize" in run.out
    wf.write_text(WORKFLOW)
    assert tango("hints", "check", str(hint_file), "--workflow", str(wf)).code == 0


def test_check_with_an_invalid_workflow_file(tango, hint_file, tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text("nodes: [")
    run = tango("hints", "check", str(hint_file), "--workflow", str(wf))
    assert run.code == 1 and "not a valid workflow definition" in run.err


def test_check_json(tango, tmp_path):
    bad = tmp_path / "bad.hints"
    bad.write_text(HINTS.replace("use large", "use huge"))
    diags = json.loads(tango("--json", "hints", "check", str(bad)).out)
    assert diags[0]["line"] == 7 and diags[0]["severity"] == "error"


def test_set_sends_the_text(wsk, api, hint_file):
    api.on("PUT", f"{API}/workflows/thumbs/hints", {"hints": HINTS, "warnings": []})
    run = wsk("hints", "set", "thumbs", str(hint_file))
    assert run.out == "ok: set hints for workflow thumbs\n"
    assert (api.last.method, api.last.body) == ("PUT", {"hints": HINTS})


def test_set_shows_server_diagnostics_at_the_users_file(wsk, api, hint_file):
    diags = [{"line": 7, "column": 33, "message": "unknown option 'huge'", "severity": "error"}]
    api.on(
        "PUT",
        f"{API}/workflows/thumbs/hints",
        {
            "error": "The hints are not valid:\nthumbs.hints:7:33: unknown option 'huge'",
            "code": "t5",
        },
        status=400,
        headers={"X-Tango-Diagnostics": json.dumps(diags)},
    )
    run = wsk("hints", "set", "thumbs", str(hint_file))
    assert run.code == 400 - 256
    assert run.err == (
        "error: Unable to set hints for workflow 'thumbs': The hints are not valid:\n"
        f"{hint_file}:7:33: unknown option 'huge' (code t5)\n"
    )


def test_get_prints_the_text(wsk, api):
    api.on("GET", f"{API}/workflows/thumbs/hints", {"hints": HINTS, "updated": 1})
    assert wsk("hints", "get", "thumbs").out == HINTS


def test_profile_posts_inputs_and_follows_progress(wsk, api, tmp_path, monkeypatch):
    monkeypatch.setattr(hints_cmd, "PROFILE_POLL_S", 0.001)
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"url": "a"}\n\n{"url": "b"}\n')
    api.on("POST", f"{API}/workflows/thumbs/profile", {"jobId": "j1"}, status=202)
    job = {"jobId": "j1", "state": "running", "done": 0, "total": 8, "error": None}
    api.on(
        "GET",
        f"{API}/workflows/thumbs/profile",
        Reply(200, {"job": job}),
        Reply(200, {"job": dict(job, done=4)}),
        Reply(
            200,
            {
                "job": dict(job, state="done", done=8),
                "profiles": {
                    "resize": {
                        "small": {"samples": 4, "p50": 800.0, "p99": 950.0},
                        "large": {"samples": 4, "p50": 300.0, "p99": 410.0},
                    }
                },
            },
        ),
    )
    run = wsk(
        "hints",
        "profile",
        "thumbs",
        "--inputs",
        str(inputs),
        "--options",
        "small,large",
        "--repeats",
        "2",
        "--capacity-cores",
        "4",
    )
    assert run.code == 0
    post = next(r for r in api.requests if r.method == "POST")
    assert post.body == {
        "inputs": [{"url": "a"}, {"url": "b"}],
        "options": ["small", "large"],
        "repeats": 2,
        "capacityCores": 4.0,
    }
    assert "4/8 runs" in run.err and run.err.rstrip().endswith("] 8/8 runs")
    table = run.out.splitlines()
    assert table[0].split() == ["Function", "Option", "Samples", "p50", "p99"]
    assert table[1].split() == ["resize", "small", "4", "800ms", "950ms"]


def test_profile_failure_and_bad_inputs(wsk, api, tmp_path, monkeypatch):
    monkeypatch.setattr(hints_cmd, "PROFILE_POLL_S", 0.001)
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"url": "a"}\n{oops\n')
    run = wsk("hints", "profile", "thumbs", "--inputs", str(inputs))
    assert run.code == 1 and f"{inputs}:2: not valid JSON" in run.err and api.requests == []
    inputs.write_text('{"url": "a"}\n')
    api.on("POST", f"{API}/workflows/thumbs/profile", {"jobId": "j1"}, status=202)
    api.on(
        "GET",
        f"{API}/workflows/thumbs/profile",
        {
            "job": {
                "jobId": "j1",
                "state": "failed",
                "done": 1,
                "total": 3,
                "error": "action resize crashed",
            }
        },
    )
    run = wsk("hints", "profile", "thumbs", "--inputs", str(inputs))
    assert run.code == 1
    assert run.err.rstrip().endswith("profiling workflow 'thumbs' failed: action resize crashed")
    assert "repeats" not in api.requests[0].body and "options" not in api.requests[0].body


SYNTHESIS = {
    "hints": HINTS,
    "report": {
        "slo_ms": 2500.0,
        "percentile": 99.0,
        "rules_before": 40,
        "rules_after": 2,
        "hint_bytes": 120,
        "predicted_tail_ms": 2300.0,
        "feasible_at_slo": True,
        "functions": {"resize": {"rules": 2, "min_feasible_budget_ms": 400}},
        "diagnostics": [],
    },
}


def test_synthesize_prints_hints_and_the_size_report(wsk, api):
    api.on("POST", f"{API}/workflows/thumbs/synthesize", SYNTHESIS)
    run = wsk("hints", "synthesize", "thumbs", "--percentile", "95")
    assert api.last.body == {"percentile": 95.0}
    assert run.out == HINTS
    assert run.err.splitlines()[:2] == [
        "rules: 40 before condensing, 2 after (120 bytes)",
        "SLO 2500ms at p99: predicted tail 2300ms, feasible yes",
    ]
    assert run.err.splitlines()[3].split() == ["resize", "2", "400ms"]
    assert "fastest options" not in run.err  # feasible: no advice


def test_synthesize_says_what_to_do_when_the_slo_is_out_of_reach(wsk, api):
    infeasible = {
        "hints": HINTS,
        "report": {**SYNTHESIS["report"], "predicted_tail_ms": 3238.0, "feasible_at_slo": False},
    }
    api.on("POST", f"{API}/workflows/thumbs/synthesize", infeasible)
    run = wsk("hints", "synthesize", "thumbs")
    assert run.code == 0 and run.out == HINTS
    assert "predicted tail 3238ms, feasible NO" in run.err
    assert (
        "even the fastest options miss this SLO" in run.err and "tango workflow update" in run.err
    )


def test_synthesize_to_a_file(wsk, api, tmp_path):
    api.on("POST", f"{API}/workflows/thumbs/synthesize", SYNTHESIS)
    target = tmp_path / "out.hints"
    run = wsk("hints", "synthesize", "thumbs", "-o", str(target))
    assert api.last.body == {}
    assert target.read_text() == HINTS
    assert run.out == f"ok: wrote hints for workflow thumbs to {target}\n"


def test_synthesize_without_profiles(wsk, api):
    api.on(
        "POST",
        f"{API}/workflows/thumbs/synthesize",
        {
            "error": "The workflow 'thumbs' has no profiles yet: run tango hints profile thumbs first.",
            "code": "t",
        },
        status=409,
    )
    run = wsk("hints", "synthesize", "thumbs")
    assert run.code == 409 - 256 and "has no profiles yet" in run.err


def test_progress_bar_estimates_the_time_left_from_the_pace_so_far():
    assert hints_cmd.time_left_s(30.0, 3, 9) == 60.0
    assert hints_cmd.time_left_s(5.0, 0, 9) is None
    assert hints_cmd.progress_bar(3, 9, 30.0).endswith("3/9 runs, about 1m00s left")
    assert hints_cmd.progress_bar(0, 9, 2.0).endswith("0/9 runs, estimating time left")
    assert hints_cmd.progress_bar(9, 9, 95.0).endswith("9/9 runs, took 1m35s")
    assert hints_cmd.progress_bar(2, 4).endswith("2/4 runs")
    assert hints_cmd.progress_bar(2, 4, 8.0, finished=True).endswith("2/4 runs, took 8s")
    assert hints_cmd.duration_text(7300) == "2h01m"


def test_profile_summary_says_why_an_option_has_no_latency(wsk, api, tmp_path, monkeypatch):
    monkeypatch.setattr(hints_cmd, "PROFILE_POLL_S", 0.001)
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"mb": 400}\n')
    api.on("POST", f"{API}/workflows/thumbs/profile", {"jobId": "j1"}, status=202)
    failure = {"function": "resize", "option": "small", "run": 11, "error": "out of memory"}
    done = {"jobId": "j1", "state": "done", "done": 4, "total": 4, "started": 1, "finished": 2}
    api.on(
        "GET",
        f"{API}/workflows/thumbs/profile",
        {
            "job": done,
            "profiles": {
                "resize": {
                    "small": {"samples": 0, "p50": None, "p99": None},
                    "large": {"samples": 2, "p50": 300.0, "p99": 410.0},
                }
            },
            "infeasible": [failure, {**failure, "run": 12}],
        },
    )
    run = wsk("hints", "profile", "thumbs", "--inputs", str(inputs))
    assert run.code == 0
    assert run.out.splitlines()[1].split() == ["resize", "small", "0", "-", "-"]
    assert (
        "infeasible: resize at option 'small' failed on profiling input #11: out of memory "
        "(and 1 more run(s))" in run.out
    )


def test_synthesize_while_profiling_says_it_is_still_running(wsk, api):
    api.on(
        "POST",
        f"{API}/workflows/thumbs/synthesize",
        {"error": "The workflow 'thumbs' has no profiles yet: run it.", "code": "t"},
        status=409,
    )
    job = {"jobId": "j1", "state": "running", "done": 2, "total": 8, "started": 1}
    api.on("GET", f"{API}/workflows/thumbs/profile", {"job": job})
    run = wsk("hints", "synthesize", "thumbs")
    assert run.code == 409 - 256
    assert "profiling of workflow 'thumbs' is still running (2/8 runs, about" in run.err
    assert "no profiles yet" not in run.err
