"""Schemathesis against a running standalone and Tango's own API description: a bounded pass
(a few cases per operation, positive and negative data) that must find no answer >= 500 and no
check failure (status codes, content types and bodies as documented). The long run is
``bench/fuzz_api.py``."""

from __future__ import annotations

import pytest

from bench.fuzz_api import fuzz
from common.platform_process import GUEST_KEY

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(standalone, tmp_path):
    result = fuzz(
        standalone.apihost, GUEST_KEY, max_examples=4, seed=14, report=tmp_path / "events.ndjson"
    )
    assert result.operations >= 40 and result.requests >= 200
    assert result.server_errors == 0, result.failed_examples
    assert result.failures == {}, result.failed_examples
