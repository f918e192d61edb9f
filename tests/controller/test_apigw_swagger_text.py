"""A swagger document imported as text (``tango api create --config-file``: the apidoc's
``swagger`` is a JSON string) goes through the same JSON checks as request bodies: depth and
non-finite numbers are 400 with OpenWhisk's error body."""

import pytest


def _swagger_text(paths_value: str) -> str:
    """A swagger document (as --config-file sends it: a string) whose 'paths' is given as text."""
    head = '{"swagger": "2.0", "basePath": "/lib", "info": {"title": "lib"}, "paths": '
    return head + paths_value + "}"


@pytest.mark.parametrize(
    "paths_value, problem",
    [
        ("[" * 150 + "]" * 150, "nested more than 100 levels deep"),
        ('{"/x": {"get": {"x-n": NaN}}}', "NaN is not a JSON number"),
        ('{"/x": {"get": {"x-n": 1e999}}}', "out of range"),
        ("[1,", "the body is not valid JSON"),
    ],
)
def test_a_swagger_string_goes_through_the_body_checks(platform, guest, paths_value, problem):
    client, _, _ = platform
    body = {"apidoc": {"namespace": "_", "swagger": _swagger_text(paths_value)}}
    r = client.post("/api/v1/web/whisk.system/apimgmt/createApi.http", json=body, headers=guest)
    assert r.status_code == 400, r.data
    assert set(r.json) == {"error", "code"} and problem in r.json["error"]
