"""The pure deciders of ``controller.entitlement`` and ``controller.limits``, in milliseconds."""

from __future__ import annotations

import io

import pytest

from controller.auth import Identity
from controller.config import SystemLimits
from controller.entitlement import Privilege, bindable, namespace_of, owns, shared
from controller.errors import ApiError
from controller.limits import (
    BoundedInput,
    body_limit,
    bounded_int,
    bounded_record,
    finite_number,
    json_problem,
    safe_member,
)

ALICE = Identity("alice", "u", "k", False, None)
ADMIN = Identity("ops", "u2", "k2", True, None)
LIMITS = SystemLimits()


def test_owners_and_admins_act_in_a_namespace_others_do_not():
    assert owns(ALICE, "alice") and owns(ALICE, "_") and not owns(ALICE, "bob")
    assert owns(ADMIN, "bob")
    assert namespace_of(ALICE, "_") == "alice" and namespace_of(ADMIN, "bob") == "bob"
    with pytest.raises(ApiError) as err:
        namespace_of(ALICE, "bob")
    assert err.value.status == 403


@pytest.mark.parametrize(
    ("package", "privilege", "expected"),
    [
        ({"publish": True}, Privilege.READ, True),
        ({"publish": True}, Privilege.ACTIVATE, True),
        ({"publish": True}, Privilege.PUT, False),
        ({"publish": True}, Privilege.DELETE, False),
        ({"publish": False}, Privilege.READ, False),
        ({"publish": True, "binding": {"namespace": "x", "name": "y"}}, Privilege.READ, False),
        (None, Privilege.READ, False),
    ],
)
def test_only_published_plain_packages_are_shared_and_only_to_read_and_run(
    package, privilege, expected
):
    assert shared(package, privilege) is expected


def test_a_binding_points_at_ones_own_or_a_published_package():
    assert bindable("alice", {"namespace": "alice", "publish": False})
    assert bindable("alice", {"namespace": "bob", "publish": True})
    assert not bindable("alice", {"namespace": "bob", "publish": False})


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/v1/web/ns/default/a.json", LIMITS.max_payload),
        ("GET", "/api/v1/web/ns/default/a.json", LIMITS.max_payload),
        ("POST", "/api/v1/namespaces/_/actions/a", LIMITS.max_payload),
        ("POST", "/api/v1/namespaces/_/actions/p/a", LIMITS.max_payload),
        ("POST", "/api/v1/namespaces/_/triggers/t", LIMITS.max_payload),
        ("POST", "/api/v1/namespaces/_/workflows/w", LIMITS.max_payload),
        ("PUT", "/api/v1/namespaces/_/actions/p/a", LIMITS.max_code + 2 * LIMITS.max_parameters),
        ("PUT", "/api/v1/namespaces/_/packages/p", 3 * LIMITS.max_parameters),
        ("POST", "/api/v1/namespaces/_/workflows/w/profile", 3 * LIMITS.max_parameters),
        ("POST", "/internal/activations", LIMITS.max_code + 2 * LIMITS.max_parameters),
    ],
)
def test_body_limits_by_endpoint(method, path, expected):
    assert body_limit(method, path, LIMITS) == expected


def test_a_streamed_body_is_cut_off_just_past_its_limit():
    stream = BoundedInput(io.BytesIO(b"x" * 1000), 100)
    with pytest.raises(ApiError) as err:
        stream.read()
    assert err.value.status == 413 and stream.seen <= 100 + BoundedInput.CHUNK
    assert BoundedInput(io.BytesIO(b"x" * 100), 100).read() == b"x" * 100


def test_json_problems_depth_and_non_finite_numbers():
    deep = []
    for _ in range(5000):  # far past Python's recursion limit: answered iteratively
        deep = [deep]
    assert "nested more than 100" in json_problem(deep, 100)
    assert json_problem({"a": [[{"b": 1.5}]]}, 4) is None
    assert json_problem({"a": [[{"b": 1}]]}, 3) is not None
    assert "not a JSON number" in json_problem({"x": float("nan")}, 10)
    assert json_problem({"x": float("inf")}, 10, finite=False) is None


def test_a_result_that_cannot_be_stored_becomes_the_developers_error():
    ok = {"statusCode": 0, "response": {"statusCode": 0, "result": {"a": 1}}}
    assert bounded_record(ok, LIMITS) is ok
    bad = {"statusCode": 0, "response": {"statusCode": 0, "result": {"a": float("nan")}}}
    out = bounded_record(bad, LIMITS)
    assert out["statusCode"] == 2 and out["response"]["status"] == "action developer error"


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "..", "a\\b", "a\0b", ""])
def test_archive_paths_that_leave_the_folder(name):
    assert not safe_member(name)


@pytest.mark.parametrize("name", ["__main__.py", "pkg/mod.py", "a/./b", "a/b/../c"])
def test_archive_paths_that_stay_inside(name):
    assert safe_member(name)


def test_integer_and_number_parameters():
    assert bounded_int("skip", "12") == 12
    for bad in ("99999999999999999999", "-1", "1e3", "x", "1.0", ""):
        with pytest.raises(ApiError) as err:
            bounded_int("skip", bad)
        assert err.value.status == 400 and "'skip'" in err.value.message
    assert finite_number("cpu", "1.5", 0, 2, "cores") == 1.5
    for bad in ("nan", "inf", "-inf", "0", "3", "x", "1e400"):
        with pytest.raises(ApiError) as err:
            finite_number("cpu", bad, 0, 2, "cores")
        assert "'cpu'" in err.value.message
