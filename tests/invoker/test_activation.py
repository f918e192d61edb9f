"""Pure tests: /run reply classification and activation records (OpenWhisk rules)."""

import json

from invoker import activation as act


def test_success_object_and_array():
    assert act.classify_run(200, b'{"a": 1}') == act.Outcome(0, {"a": 1})
    assert act.classify_run(200, b"[1, 2]") == act.Outcome(0, [1, 2])


def test_error_field_on_200_is_application_error_reduced_to_error():
    outcome = act.classify_run(200, b'{"error": "bad", "more": 1}')
    assert outcome == act.Outcome(1, {"error": "bad"})
    assert outcome.response().status == "application error"


def test_non_200_and_invalid_replies_are_developer_errors():
    assert act.classify_run(502, b'{"error": "command exited"}') == act.Outcome(
        2, {"error": "command exited"}
    )
    assert act.classify_run(200, b"42").status_code == 2
    outcome = act.classify_run(200, b"not json")
    assert outcome.result == {"error": "The action did not produce a valid JSON response: not json"}


def test_oversized_result_is_truncated_application_error():
    body = json.dumps({"x": "y" * act.MAX_RESULT_BYTES}).encode()
    outcome = act.classify_run(200, body)
    assert outcome.status_code == 1 and "exceeded the allowed length" in outcome.result["error"]


def test_init_failure_keeps_runtime_error():
    assert act.classify_init(200, b'{"ok": true}') is None
    assert act.classify_init(502, b'{"error": "SyntaxError"}') == act.Outcome(
        2, {"error": "SyntaxError"}
    )
    assert act.classify_init(500, b"") == act.Outcome(2, {"error": act.ABNORMAL_INIT})


def test_record_shape():
    msg = {
        "activationId": "a" * 32,
        "namespace": "guest",
        "subject": "guest",
        "cause": "c" * 32,
        "action": {"namespace": "guest", "name": "hello", "version": "0.0.2"},
    }
    record = act.build_record(
        msg,
        act.Outcome(0, {"ok": 1}),
        start=10,
        end=25,
        logs=["l"],
        annotations={"path": "guest/hello", "timeout": False},
    )
    assert record["duration"] == 15 and record["cause"] == "c" * 32
    assert record["response"] == {
        "status": "success",
        "statusCode": 0,
        "success": True,
        "result": {"ok": 1},
    }
    assert record["annotations"] == [
        {"key": "path", "value": "guest/hello"},
        {"key": "timeout", "value": False},
    ]
    assert act.timed_out(1000, init=True).endswith("1000 milliseconds during initialization.")
