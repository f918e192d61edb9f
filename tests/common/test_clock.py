"""The platform clock and the activation status table shared by controller and invoker."""

import time

from common.activation_status import STATUS_NAMES
from common.clock import now_ms
from invoker import activation


def test_now_ms_is_integer_epoch_milliseconds():
    before = int(time.time() * 1000)
    t = now_ms()
    after = int(time.time() * 1000)
    assert isinstance(t, int) and before <= t <= after


def test_status_names_are_openwhisks_indexed_by_code():
    assert STATUS_NAMES[activation.SUCCESS] == "success"
    assert STATUS_NAMES[activation.APPLICATION_ERROR] == "application error"
    assert STATUS_NAMES[activation.DEVELOPER_ERROR] == "action developer error"
    assert STATUS_NAMES[activation.INTERNAL_ERROR] == "whisk internal error"
