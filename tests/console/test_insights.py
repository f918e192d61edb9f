"""The console's pure computations over records."""

from controller.console import insights


def rec(start, code=0, end=True, **ann):
    a = [{"key": k, "value": v} for k, v in ann.items()]
    return {
        "activationId": f"id{start}",
        "name": "f",
        "start": start,
        "end": start + 10 if end else 0,
        "duration": 10,
        "statusCode": code,
        "annotations": a,
        "response": {
            "status": "success" if code == 0 else "application error",
            "success": code == 0,
        },
    }


def test_activation_stats_window_errors_and_start_kinds():
    now = 100_000
    records = [
        rec(now - 1000, startKind="cold", initTime=50),
        rec(now - 2000, startKind="warm"),
        rec(now - 3000, code=2, startKind="prewarmed"),
        rec(now - 4000, initTime=30),
        rec(now - 5000, end=False),
        rec(now - 70_000, startKind="cold"),
    ]
    s = insights.activation_stats(records, now, 60)
    assert s["count"] == 5 and s["completed"] == 4 and s["running"] == 1
    assert s["errors"] == 1 and s["errorRate"] == 0.25
    assert (s["cold"], s["prewarmed"], s["warm"]) == (2, 1, 1)  # no startKind but an initTime: cold
    assert s["meanInitMs"] == 40.0 and s["byStatus"] == {"success": 3, "developer error": 1}


def test_activation_row_reports_the_size_and_usage():
    r = insights.activation_row(
        rec(0, size={"cpu": 2, "memory": 512}, usage={"cpuTime": 15, "maxMemory": 2097152})
    )
    assert (
        r["size"] == {"cpu": 2, "memory": 512} and r["cpuUsed"] == 1.5 and r["maxMemoryMb"] == 2.0
    )


def test_containers_by_state_and_namespace_visibility():
    invokers = [
        {
            "id": "i0",
            "containers": [
                {"state": "warm", "cpu": 1, "memory": 256, "action": "a/x"},
                {"state": "warm", "cpu": 0.5, "memory": 128, "action": "b/y"},
                {"state": "prewarm", "cpu": 1, "memory": 256, "action": None},
            ],
        }
    ]
    assert insights.containers_by_state(invokers) == [
        {"state": "prewarm", "count": 1, "cpu": 1.0, "memory": 256},
        {"state": "warm", "count": 2, "cpu": 1.5, "memory": 384},
    ]
    only_b = insights.visible_invokers(invokers, "b", admin=False)
    assert [c["action"] for c in only_b[0]["containers"]] == ["b/y"]
    assert insights.visible_invokers(invokers, "b", admin=True) is invokers


def test_savings_against_both_baselines_skip_running_runs():
    runs = [
        {"policy": "late", "start": 1, "coreSeconds": 1.0},
        {"policy": "late", "start": 3, "coreSeconds": 3.0},
        {"policy": "early-max", "start": 2, "coreSeconds": 4.0},
        {"policy": "early-static", "start": 4, "coreSeconds": 2.5},
        {"policy": "late", "start": 5, "coreSeconds": 0.0, "status": "running"},
    ]
    out = insights.savings(runs)
    rows = {r["policy"]: r for r in out["policies"]}
    assert (
        rows["late"]["runs"] == 2
        and rows["late"]["vs:early-max"] == 0.5
        and rows["late"]["vs:early-static"] == 0.2
    )
    assert "vs:early-max" not in rows["early-max"]
    assert out["series"]["late"] == [(1, 1.0), (3, 3.0)] and out["baselines"] == [
        "early-max",
        "early-static",
    ]


def test_savings_of_equal_means_is_a_plain_zero():
    # Same mean from different runs: the division can land an ulp above 1, and rounding that
    # saving gave -0.0, which the page printed as "-0.0 % less".
    runs = [
        {"policy": "late", "start": 1, "coreSeconds": 0.1},
        {"policy": "late", "start": 2, "coreSeconds": 0.2},
        {"policy": "early-static", "start": 3, "coreSeconds": 0.15},
        {"policy": "early-static", "start": 4, "coreSeconds": 0.15},
    ]
    v = {r["policy"]: r for r in insights.savings(runs)["policies"]}["late"]["vs:early-static"]
    assert v == 0 and str(v) == "0.0"


def test_run_timeline_offsets_and_unrun_nodes():
    run = {
        "runId": "r",
        "start": 1000,
        "duration": 300,
        "slo": {"latencyMs": 500},
        "nodes": [
            {
                "id": "a",
                "status": "success",
                "start": 1000,
                "end": 1100,
                "size": {"cpu": 1, "memory": 256},
                "remainingMs": 500.0,
                "activationIds": ["x"],
            },
            {"id": "b", "status": "skipped", "start": None, "end": None},
        ],
    }
    tl = insights.run_timeline(run)
    assert tl["sloMs"] == 500
    assert (
        tl["rows"][0]["offset"] == 0
        and tl["rows"][0]["length"] == 100
        and tl["rows"][0]["remainingMs"] == 500.0
    )
    assert tl["rows"][1]["offset"] is None


def test_diagnostics_attach_to_their_line_and_diff_marks_changes():
    lines = insights.lines_with_diagnostics(
        "a\nb\nc",
        [
            {"line": 2, "column": 1, "message": "m", "severity": "error"},
            {"line": 9, "column": 1, "message": "eof", "severity": "error"},
        ],
    )
    assert [len(line["diagnostics"]) for line in lines] == [0, 1, 1]
    diff = insights.hint_diff("a\nb\nc", "a\nB\nc")
    assert [d["kind"] for d in diff] == ["hunk", "same", "del", "add", "same"]
    assert insights.hint_diff("same", "same") == []


def test_parse_jsonl_reports_each_bad_line():
    inputs, errors = insights.parse_jsonl('{"a": 1}\n\n[2]\n{x')
    assert (
        inputs == [{"a": 1}] and errors[0].startswith("line 3:") and errors[1].startswith("line 4:")
    )
    assert insights.parse_jsonl("  \n")[1] == ["no inputs: write one JSON object per line"]


def test_partition_shares_and_latency_rows():
    m = {
        "partition": {"sm_split": {"vision": 10, "decode": 30}, "total_sms": 40},
        "policy": "p",
        "latency_ms": {
            "total_ms": {"count": 2, "mean": 2.0, "p50": 1, "p90": 2, "p99": 3},
            "tpot_ms": {"count": 0},
            "ttft_ms": {"count": 2, "mean": 1.0, "p50": 1, "p90": 1, "p99": 1},
        },
    }
    assert insights.partition_shares(m) == {"vision": 0.25, "prefill": 0.0, "decode": 0.75}
    assert insights.partition_shares({"partition": {"sm_split": None}}) == {}
    assert insights.current_split(m)[2] == {"stage": "decode", "sms": 30, "share": 0.75}
    rows = insights.latency_rows(
        [{"container": "c", "metrics": m}, {"container": "d", "metrics": None}]
    )
    assert [r["metric"] for r in rows] == [
        "ttft_ms",
        "total_ms",
    ]  # pipeline order, empty ones left out
    assert rows[1] == {
        "policy": "p",
        "container": "c",
        "metric": "total_ms",
        "label": "total",
        "count": 2,
        "mean": 2.0,
        "p50": 1,
        "p90": 2,
        "p99": 3,
    }


def test_an_idle_partitioning_runtime_gives_every_stage_zero():
    idle = {"partition": {"sm_split": {}, "total_sms": 132, "pipelined": True, "reason": "idle"}}
    assert insights.partition_shares(idle) == {"vision": 0.0, "prefill": 0.0, "decode": 0.0}


def test_vlm_containers_are_found_by_kind_else_by_action():
    vlm = {"guest/agent"}
    assert insights.is_vlm_container({"action": "other/agent2", "kind": "vlm"}, vlm)
    assert not insights.is_vlm_container({"action": "guest/agent", "kind": "python:3.11"}, vlm)
    assert insights.is_vlm_container({"action": "guest/agent"}, vlm)  # an invoker without kinds
    assert not insights.is_vlm_container({"action": None, "kind": "vlm"}, vlm)  # a stem cell


def test_rate_series_buckets_activations_and_errors():
    now = 60_000
    records = [rec(now - 1000), rec(now - 2000, code=1), rec(now - 12_000), rec(now - 61_000)]
    series = insights.rate_series(records, now, 60, 10)
    assert [round(v, 2) for _, v in series["activations/s"]] == [0, 0, 0, 0, 0.1, 0.2]
    assert [v for _, v in series["errors/s"]][-1] == 0.1 and series["activations/s"][-1][0] == now
