"""The controller keeps one adapter per (workflow, policy); profiling again must rebuild the
policies built from the old profiles (issue 16, item 10). Real store (SQLite via migrations)."""

from types import SimpleNamespace

from common.sizes import Size
from controller.store.db import Database
from controller.store.models import WorkflowRow
from controller.workflow_service import WorkflowService
from hint_dsl.profiles import Profiles, Sample
from workflows.definition import load as load_workflow

DEFINITION = """name: wf
slo: {latency: 1000ms, percentile: 99}
nodes:
  - id: a
    action: p/a
  - id: b
    action: p/b
    after: [a]
"""
OPTIONS = [Size(0.5, 256, "small"), Size(1.0, 512, "medium"), Size(2.0, 1024, "large")]


def profiles(a_small_ms: float) -> dict:
    p = Profiles("wf", {o.option: o for o in OPTIONS})
    per = {
        "a": {"small": a_small_ms, "medium": 250, "large": 200},
        "b": {"small": 300, "medium": 200, "large": 150},
    }
    for fn, opts in per.items():
        for opt, ms in opts.items():
            for r in range(5):
                p.add(Sample(fn, opt, ms, 100, r, 0))
    return p.to_json()


def test_profiling_again_rebuilds_the_cached_static_plan(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'tango.db'}")
    db.migrate()
    service = WorkflowService(db, SimpleNamespace())
    try:
        with db.session() as s:
            s.add(
                WorkflowRow(
                    namespace="guest",
                    name="wf",
                    version="0.0.1",
                    definition=DEFINITION,
                    profiles=profiles(400),
                    updated=0,
                )
            )
        wf = load_workflow(DEFINITION)
        _, row = service.workflow("guest", "wf")
        first = service._adapter("guest", wf, row, "early-static")
        assert first.impl.plan.options["a"] == "small"  # 400 + 300 fits 1000 ms
        assert service._adapter("guest", wf, row, "early-static") is first  # cached
        with db.session() as s:  # profiled again: a at small is now far too slow
            s.get(WorkflowRow, ("guest", "wf")).profiles = profiles(5000)
        _, row = service.workflow("guest", "wf")
        second = service._adapter("guest", wf, row, "early-static")
        assert second is not first and second.impl.plan.options["a"] != "small"
    finally:
        service.shutdown()
        db.engine.dispose()
