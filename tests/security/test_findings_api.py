"""Issue #14's findings, each as the request that broke the controller, through its real Flask
app on a fresh store (a fake invoker answers ``/invoke``). Every test here failed on the main
branch before the fix; ``test_findings_platform.py`` repeats some over real HTTP."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile

import pytest

from controller.auth import Subjects
from controller.config import GUEST_KEY
from controller.entities import build_action
from tests.controller.conftest import FakeInvoker, basic
from tests.security.conftest import API, CODE, ran

SEQ = {"kind": "sequence"}


def sequence(*components: str, **extra) -> dict:
    return {"exec": {**SEQ, "components": list(components)}, **extra}


def store_directly(services, namespace: str, path: str, body: dict) -> None:
    """Put an action document in the store without the API's checks (as a row written before
    they existed, or changed under a sequence by a race, would be)."""
    services.entities.put(
        namespace,
        "actions",
        path,
        True,
        lambda old: build_action(namespace, path, body, services.config.limits, old),
    )


# ---- 1. sequences ignore namespace boundaries -------------------------------------------------


def test_1_a_sequence_may_not_name_another_namespaces_private_action(platform, guest, other):
    client, _, _ = platform
    for component in ("/nsb/secret", "/nsb/vault/gold"):
        r = client.put(f"{API}/actions/steal", json=sequence(component), headers=guest)
        assert r.status_code == 403, r.json
    assert client.get(f"{API}/actions/steal", headers=guest).status_code == 404
    # a published package's action is what sharing is for
    r = client.put(f"{API}/actions/borrow", json=sequence("/nsb/pub/tool"), headers=guest)
    assert r.status_code == 200
    assert r.json["exec"]["components"] == ["/nsb/pub/tool"]


def test_1_a_stored_sequence_does_not_run_a_private_component_keyed_or_on_the_web(
    platform, guest, other
):
    client, services, fake = platform
    web = {"annotations": [{"key": "web-export", "value": True}]}
    store_directly(services, "guest", "steal", sequence("/nsb/secret", **web))
    r = client.post(f"{API}/actions/steal?blocking=true", json={}, headers=guest)
    assert r.status_code == 502
    assert r.json["response"]["result"]["error"].startswith("The supplied authentication")
    r = client.get("/api/v1/web/guest/default/steal.json")  # no key at all
    assert r.status_code == 400
    assert "nsb/secret" not in ran(fake)
    assert not any(b"secret" in json.dumps(rec).encode() for rec in fake.requests)


# ---- 5. zip bombs, file counts, traversal -----------------------------------------------------


def zipped(files: dict[str, bytes]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return base64.b64encode(buf.getvalue()).decode()


def put_zip(client, guest, code: str):
    body = {"exec": {"kind": "python:3.11", "code": code, "binary": True}}
    return client.put(f"{API}/actions/zipped?overwrite=true", json=body, headers=guest)


def test_5_archives_are_checked_before_anything_unpacks_them(platform, guest):
    client, services, _ = platform
    main = b"def main(a):\n    return a\n"
    assert put_zip(client, guest, zipped({"__main__.py": main})).status_code == 200
    bomb = zipped({"__main__.py": main, "zeros.bin": bytes(60 * 1_048_576)})
    assert len(bomb) < 1_048_576  # small on the wire, 60 MB unpacked
    r = put_zip(client, guest, bomb)
    assert r.status_code == 413 and "unpacks to" in r.json["error"]
    r = put_zip(client, guest, zipped({"__main__.py": main, "../../etc/cron.d/x": b"x"}))
    assert r.status_code == 400 and "outside the action's folder" in r.json["error"]
    r = put_zip(client, guest, zipped({"__main__.py": main, "/abs.py": b"x"}))
    assert r.status_code == 400
    many = {f"f{i}": b"" for i in range(services.config.limits.max_archive_files + 1)}
    r = put_zip(client, guest, zipped(many))
    assert r.status_code == 400 and "files" in r.json["error"]
    assert client.get(f"{API}/actions/zipped", headers=guest).json["version"] == "0.0.1"


# ---- 6. bodies are bounded before they are read ----------------------------------------------


class Body(io.RawIOBase):
    """A request body of ``size`` bytes that counts what the server read of it."""

    def __init__(self, size: int):
        self.left, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = min(len(buf), self.left)
        buf[:n] = b"x" * n
        self.left -= n
        self.read_bytes += n
        return n


ENDPOINTS = [
    ("POST", "/api/v1/web/guest/default/hello.json"),
    ("POST", f"{API}/actions/hello"),
    ("PUT", f"{API}/actions/hello?overwrite=true"),
    ("PUT", f"{API}/packages/p"),
    ("POST", f"{API}/triggers/t"),
    ("PUT", f"{API}/workflows/w"),
    ("POST", "/internal/invokers"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_6_a_declared_length_over_the_limit_is_refused_unread(platform, guest, method, path):
    client, _, _ = platform
    body = Body(400_000_000)
    r = client.open(
        path,
        method=method,
        headers={**guest, "Content-Type": "application/json"},
        environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": "400000000"},
    )
    assert r.status_code == 413 and "exceeds allowed threshold" in r.json["error"]
    assert body.read_bytes == 0


@pytest.mark.parametrize(("method", "path"), ENDPOINTS[:2])
def test_6_a_streamed_body_is_cut_off_at_the_limit(platform, guest, method, path):
    client, services, _ = platform
    client.put(
        f"{API}/actions/hello",
        json={**CODE, "annotations": [{"key": "web-export", "value": True}]},
        headers=guest,
    )
    body = Body(50 * 1_048_576)
    r = client.open(
        path,
        method=method,
        headers={**guest, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": body, "wsgi.input_terminated": True},
    )
    assert r.status_code == 413
    assert body.read_bytes <= services.config.limits.max_payload + 65536


# ---- 7. recursive sequences -------------------------------------------------------------------


def test_7_a_sequence_that_contains_itself_is_refused(platform, guest):
    client, _, _ = platform
    client.put(f"{API}/actions/loop", json=CODE, headers=guest)
    r = client.put(f"{API}/actions/loop?overwrite=true", json=sequence("/_/loop"), headers=guest)
    assert r.status_code == 400 and r.json["error"] == "Sequence may not refer to itself."
    client.put(f"{API}/actions/b", json=CODE, headers=guest)
    assert client.put(f"{API}/actions/a", json=sequence("/_/b"), headers=guest).status_code == 200
    r = client.put(f"{API}/actions/b?overwrite=true", json=sequence("a"), headers=guest)
    assert r.status_code == 400 and r.json["error"] == "Sequence may not refer to itself."


def test_7_too_many_actions_through_nesting_are_refused(platform, guest):
    client, _, _ = platform
    client.put(f"{API}/actions/one", json=CODE, headers=guest)
    client.put(f"{API}/actions/s26", json=sequence(*["/_/one"] * 26), headers=guest)
    r = client.put(f"{API}/actions/s52", json=sequence("/_/s26", "/_/s26"), headers=guest)
    assert r.status_code == 400
    assert r.json["error"] == "Too many actions in the sequence (count: 51, allowed: 50)."


def test_7_a_recursive_sequence_ends_in_one_error_record_and_none_running(platform, guest):
    client, services, fake = platform
    client.put(f"{API}/actions/b", json=CODE, headers=guest)
    client.put(f"{API}/actions/a", json=sequence("/_/b"), headers=guest)
    store_directly(services, "guest", "b", sequence("/_/a"))  # the cycle, behind the API's back
    r = client.post(f"{API}/actions/a?blocking=true", json={}, headers=guest)
    assert r.status_code == 502
    assert r.json["response"]["result"]["error"] == "Sequence may not refer to itself."
    services.activations.flush()
    records = services.activations.list("guest", None, 200, 0)
    assert [rec["name"] for rec in records] == ["a"]
    assert services.activations.running_count() == 0 and fake.requests == []


# ---- 8. the key cache is bounded --------------------------------------------------------------


def test_8_random_keys_do_not_grow_the_key_cache(platform):
    _, services, _ = platform
    subjects = Subjects(services.db, max_entries=64)
    for _ in range(500):
        key = f"{uuid.uuid4()}:{uuid.uuid4().hex}"
        header = "Basic " + base64.b64encode(key.encode()).decode()
        with pytest.raises(Exception) as err:
            subjects.authenticate(header)
        assert getattr(err.value, "status", None) == 401
    assert len(subjects._cache) <= 64
    guest = subjects.authenticate("Basic " + base64.b64encode(GUEST_KEY.encode()).decode())
    assert guest.namespace == "guest"


def test_8_the_controllers_key_cache_has_a_bound(platform):
    _, services, _ = platform
    assert 0 < services.subjects.max_entries <= 100_000


# ---- 9. non-ASCII credentials -----------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(GUEST_KEY.split(":")[0].encode() + ":sëcret".encode()).decode(),
        "Basic " + base64.b64encode("ünï:cödé".encode()).decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic ñññ",
    ],
)
def test_9_a_non_ascii_key_is_401(platform, authorization):
    client, _, _ = platform
    r = client.get(f"{API}/actions", headers={"Authorization": authorization})
    assert r.status_code == 401 and set(r.json) == {"error", "code"}


@pytest.mark.parametrize("token", ["tökén", "ÿÿÿ", ""])
def test_9_a_non_ascii_or_wrong_internal_token_is_401(platform, token):
    client, _, _ = platform
    r = client.post(
        "/internal/invokers",
        json={"id": "x", "url": "http://127.0.0.1:1"},
        headers={"X-Tango-Internal": token},
    )
    assert r.status_code == 401 and set(r.json) == {"error", "code"}


# ---- 10. delAnnotations -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [5, "key", {"k": 1}, [1, 2]])
def test_10_del_annotations_must_be_a_list_of_keys(platform, guest, value):
    client, _, _ = platform
    r = client.put(f"{API}/actions/x", json={**CODE, "delAnnotations": value}, headers=guest)
    assert r.status_code == 400 and "delAnnotations" in r.json["error"]
    r = client.put(f"{API}/actions/x", json={**CODE, "delAnnotations": ["a"]}, headers=guest)
    assert r.status_code == 200


# ---- 11. deeply nested JSON -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [101, 1000, 100_000])
def test_11_deep_json_is_400_on_put_and_invoke(platform, guest, depth):
    client, _, fake = platform
    client.put(f"{API}/actions/x", json=CODE, headers=guest)
    deep = "[" * depth + "]" * depth
    for method, path, data in (
        ("PUT", f"{API}/actions/y", '{"exec": {"kind": "python:3.11", "code": "x"}, "p": %s}'),
        ("POST", f"{API}/actions/x", '{"p": %s}'),
        ("PUT", f"{API}/packages/p", '{"parameters": [{"key": "k", "value": %s}]}'),
    ):
        r = client.open(
            path,
            method=method,
            data=data % deep,
            headers={**guest, "Content-Type": "application/json"},
        )
        assert r.status_code == 400 and "nested more than 100" in r.json["error"], (path, r.json)
    assert fake.requests == []


# ---- 12. list parameters ----------------------------------------------------------------------

LISTS = ["actions", "packages", "triggers", "rules", "activations", "workflows", "workflow-runs"]


@pytest.mark.parametrize("collection", LISTS)
@pytest.mark.parametrize(
    "query", ["skip=99999999999999999999", "limit=99999999999999999999", "skip=-1", "skip=1e3"]
)
def test_12_list_parameters_out_of_range_are_400(platform, guest, collection, query):
    client, _, _ = platform
    r = client.get(f"{API}/{collection}?{query}", headers=guest)
    assert r.status_code == 400 and query.split("=")[0] in r.json["error"]


@pytest.mark.parametrize("query", ["since=99999999999999999999", "upto=9223372036854775808"])
def test_12_activation_time_bounds_out_of_range_are_400(platform, guest, query):
    client, _, _ = platform
    r = client.get(f"{API}/activations?{query}", headers=guest)
    assert r.status_code == 400 and query.split("=")[0] in r.json["error"]
    assert client.get(f"{API}/activations?since=9007199254740991", headers=guest).json == []


# ---- 13. sizes and numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("cpu=nan", "cpu"),
        ("cpu=inf", "cpu"),
        ("cpu=-inf", "cpu"),
        ("cpu=1000", "cpu"),
        ("cpu=0", "cpu"),
        ("memory=1e9", "memory"),
        ("memory=1000000000", "memory"),
        ("memory=nan", "memory"),
        ("memory=512.5", "memory"),
    ],
)
def test_13_bad_sizes_are_400_naming_the_parameter_and_nothing_is_stored(
    platform, guest, query, parameter
):
    client, services, fake = platform
    client.put(f"{API}/actions/x", json=CODE, headers=guest)
    r = client.post(f"{API}/actions/x?blocking=true&{query}", json={}, headers=guest)
    assert r.status_code == 400 and f"'{parameter}'" in r.json["error"]
    services.activations.flush()
    assert services.activations.list("guest", None, 10, 0) == [] and fake.requests == []


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_13_non_json_numbers_in_bodies_are_400(platform, guest, literal):
    client, services, _ = platform
    client.put(f"{API}/actions/x", json=CODE, headers=guest)
    for method, path in (("POST", f"{API}/actions/x?blocking=true"), ("PUT", f"{API}/triggers/t")):
        r = client.open(
            path,
            method=method,
            data=f'{{"parameters": [{{"key": "n", "value": {literal}}}], "n": {literal}}}',
            headers={**guest, "Content-Type": "application/json"},
        )
        assert r.status_code == 400, r.json
    services.activations.flush()
    assert services.activations.list("guest", None, 10, 0) == []


def test_13_a_size_within_the_invokers_capacity_still_binds(platform, guest):
    client, _, fake = platform
    client.put(f"{API}/actions/x", json=CODE, headers=guest)
    r = client.post(f"{API}/actions/x?blocking=true&cpu=1.5&memory=512", json={}, headers=guest)
    assert r.status_code == 200 and fake.requests[-1]["size"]["cpu"] == 1.5


# ---- 14. results too deep (or not JSON) -------------------------------------------------------


def raw_record(body: dict, result: str) -> bytes:
    rec = FakeInvoker.record(body, "RESULT")
    return json.dumps(rec).encode().replace(b'"RESULT"', result.encode())


@pytest.mark.parametrize(
    "result", ["[" * 970 + "]" * 970, "[" * 5000 + "]" * 5000, '{"x": NaN}', '{"x": Infinity}']
)
def test_14_an_unstorable_result_is_the_developers_error_and_readable(platform, guest, result):
    client, services, fake = platform
    client.put(f"{API}/actions/deep", json=CODE, headers=guest)
    fake.behaviour = lambda body: (200, raw_record(body, result))
    r = client.post(f"{API}/actions/deep?blocking=true", json={}, headers=guest)
    assert r.status_code == 502
    assert r.json["response"]["status"] == "action developer error"
    aid = r.json["activationId"]
    services.activations.flush()
    got = client.get(f"{API}/activations/{aid}", headers=guest)
    assert got.status_code == 200 and got.json["statusCode"] == 2
    listed = client.get(f"{API}/activations?docs=true", headers=guest)
    json.loads(listed.data, parse_constant=lambda c: pytest.fail(f"{c} in a listing"))


# ---- 15. entity names are ASCII ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["héllo", "名前", "ünï", "a\u00a0b", "x\u2028y"])
@pytest.mark.parametrize("collection", ["actions", "packages", "triggers", "rules", "workflows"])
def test_15_entity_names_follow_openwhisks_ascii_rule(platform, guest, collection, name):
    client, _, _ = platform
    r = client.put(f"{API}/{collection}/{name}", json={}, headers=guest)
    assert r.status_code == 400 and "is not valid" in r.json["error"]


def test_15_ascii_names_with_openwhisks_punctuation_still_work(platform, guest):
    client, _, _ = platform
    r = client.put(f"{API}/actions/a b@c.d-e_f", json=CODE, headers=guest)
    assert r.status_code == 200


def test_a_second_tenant_key_is_unaffected(platform, other):
    client, _, _ = platform
    assert client.get(f"{API}/actions/secret", headers=other).status_code == 200
    assert client.get(f"{API}/actions", headers=basic(GUEST_KEY)).json == []


def test_14_records_an_invoker_delivers_are_bounded_too(platform):
    client, services, _ = platform
    token = {"X-Tango-Internal": services.config.internal_token}
    aid = uuid.uuid4().hex
    record = {
        **FakeInvoker.record(
            {
                "namespace": "guest",
                "subject": "guest",
                "activationId": aid,
                "action": {"name": "a", "version": "0.0.1", "path": "guest/a"},
            },
            "RESULT",
        )
    }
    body = json.dumps({"records": [record]}).replace('"RESULT"', '{"x": NaN}')
    r = client.post(
        "/internal/activations", data=body, headers={**token, "Content-Type": "application/json"}
    )
    assert r.status_code == 200 and r.json["stored"] == [aid]
    stored = services.activations.get("guest", aid)
    assert stored["statusCode"] == 2 and "not a JSON number" in json.dumps(stored)
    for bad in ("[]", '{"records": 5}', '"x"'):
        r = client.post(
            "/internal/activations", data=bad, headers={**token, "Content-Type": "application/json"}
        )
        assert r.status_code == 400


WORKFLOW = "name: wf\nslo: {latency: 5000ms, percentile: 99}\nnodes:\n  - {id: n, action: a}\n"


@pytest.mark.parametrize(
    "body",
    [[], "x", None, {"inputs": [{}], "repeats": "abc"}, {"inputs": [{}], "options": [1]}],
)
def test_malformed_profiling_requests_are_400(platform, guest, body):
    client, _, _ = platform
    client.put(f"{API}/actions/a", json=CODE, headers=guest)
    r = client.put(f"{API}/workflows/wf", json={"definition": WORKFLOW}, headers=guest)
    assert r.status_code == 200
    r = client.post(
        f"{API}/workflows/wf/profile",
        data=json.dumps(body),
        headers={**guest, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and set(r.json) == {"error", "code"}
