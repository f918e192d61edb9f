"""Pure parts of the console details of issue 18: where an admin lands, the profiling ETA."""

from controller.console.insights import landing_namespace, profile_eta


def test_an_admin_lands_where_something_ran_last():
    assert landing_namespace("whisk.system", {"guest": 5, "alice": 9}) == "alice"
    assert landing_namespace("whisk.system", {}) == "whisk.system"
    assert landing_namespace("whisk.system", {"whisk.system": 10, "guest": 3}) == "whisk.system"


def test_profile_eta_from_the_pace_so_far():
    job = {"state": "running", "started": 1000, "done": 2, "total": 6}
    assert profile_eta(job, 21_000) == "about 40s left"
    assert profile_eta({**job, "done": 0}, 21_000) == "estimating time left"
    assert profile_eta({**job, "state": "done", "done": 6, "finished": 96_000}, 0) == "took 1m35s"
    assert profile_eta(None, 0) is None and profile_eta({"state": "running"}, 0) is None
