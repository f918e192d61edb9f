"""The shipped workflows: bundles load, each function runs locally on a small input with sane
output, and the thread count follows the cgroup CPU quota."""

import io
import zipfile

import pytest

from controller.workflow_engine import build_node_input
from workflows.packaging import load_bundle, load_function, shipped

SMALL = {
    "image-pipeline": {"seed": 7, "width": 320, "height": 240},
    "video-analytics": {
        "seed": 7,
        "frames": 200,
        "width": 160,
        "height": 120,
        "fps": 30,
        "chunk": 24,
    },
    "ml-pipeline": {"seed": 7, "rows": 3000, "features": 12, "classes": 2},
}


@pytest.fixture
def one_core(tmp_path, monkeypatch):
    return fake_quota(tmp_path, monkeypatch, 100000)


def fake_quota(tmp_path, monkeypatch, quota_us, period_us=100000):
    (tmp_path / "cpu").mkdir(exist_ok=True)
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text(f"{quota_us}\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text(f"{period_us}\n")
    monkeypatch.setenv("TANGO_CGROUP_ROOT", str(tmp_path))
    return tmp_path


def run_locally(name: str, request: dict) -> dict:
    """Walk the DAG in topological order, calling each function's main like the runtime."""
    bundle = load_bundle(name)
    by_path = {a.path: a for a in bundle.actions}
    outputs = {}
    for node in bundle.workflow.nodes:
        main = load_function(by_path[node.action]).main
        params = build_node_input(bundle.workflow, node, request, outputs)
        outputs[node.id] = [main(p) for p in params] if node.foreach else main(params)
    return outputs


def test_every_bundle_is_complete():
    assert shipped() == [
        "agentic-ui",
        "blob-pipeline",
        "image-pipeline",
        "ml-pipeline",
        "video-analytics",
    ]
    for name in shipped():
        bundle = load_bundle(name)  # validates workflow.yaml against deploy.json
        assert bundle.workflow.name == name
        assert len(bundle.inputs()) >= 20
        spec = bundle.actions[0]
        names = zipfile.ZipFile(io.BytesIO(spec.zip_bytes())).namelist()
        assert "__main__.py" in names and "actionlib/cpu.py" in names
        assert spec.exec_json()["binary"] is True and spec.zip_bytes() == spec.zip_bytes()


def test_inputs_are_heavy_tailed():
    rows = sorted(i["rows"] for i in load_bundle("ml-pipeline").inputs())
    assert rows[-1] > 4 * rows[len(rows) // 2]
    frames = sorted(i["frames"] for i in load_bundle("video-analytics").inputs())
    assert frames[-1] > 4 * frames[len(frames) // 2]


def test_image_pipeline_runs(one_core):
    out = run_locally("image-pipeline", SMALL["image-pipeline"])
    assert out["decode"]["work_width"] == 320 and out["decode"]["workers"] == 1
    assert set(out["thumbnail"]["thumbnails"]) == {"256", "128", "64"}
    assert len(out["features"]["embedding"]) == 128
    merged = out["merge"]
    assert len(merged["hash"]) == 16 and len(merged["palette"]) == 5
    assert merged["labels"][0]["score"] >= merged["labels"][1]["score"]


def test_video_analytics_fans_out_per_chunk(one_core):
    out = run_locally("video-analytics", SMALL["video-analytics"])
    chunks = out["split"]["chunks"]
    assert sum(c["count"] for c in chunks) == 200 and all(c["count"] <= 24 for c in chunks)
    assert len(out["detect"]) == len(chunks)
    agg = out["aggregate"]
    assert agg["frames"] == 200 and agg["chunks"] == len(chunks)
    assert agg["events"] and agg["contact_sheet"]


def test_ml_pipeline_learns(one_core):
    out = run_locally("ml-pipeline", SMALL["ml-pipeline"])
    scores = out["evaluate"]["scores"]
    assert out["evaluate"]["test_rows"] == 600
    assert scores["train_linear"]["accuracy"] > 0.8 and scores["train_mlp"]["accuracy"] > 0.7
    assert out["evaluate"]["best"] in scores


@pytest.mark.parametrize("quota_us,workers", [(50000, 1), (100000, 1), (150000, 2), (200000, 2)])
def test_thread_count_follows_the_quota(tmp_path, monkeypatch, quota_us, workers):
    import os

    decode = load_function(load_bundle("image-pipeline").action("decode"))
    from actionlib import cpu  # importable once a bundle function has been loaded

    fake_quota(tmp_path, monkeypatch, quota_us)
    expected = min(workers, os.cpu_count())
    assert cpu.worker_count() == expected
    assert decode.main(SMALL["image-pipeline"])["workers"] == expected


def test_quota_falls_back_to_cgroup_v2_then_cpu_count(tmp_path, monkeypatch):
    load_function(load_bundle("image-pipeline").action("decode"))
    from actionlib import cpu

    (tmp_path / "cpu.max").write_text("250000 100000\n")
    assert cpu.cpu_quota(str(tmp_path)) == 2.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    import os

    assert cpu.cpu_quota(str(tmp_path)) == float(os.cpu_count())
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu.cpu_quota(str(tmp_path)) == float(os.cpu_count())


def test_cnn_result_does_not_depend_on_thread_count():
    import numpy as np

    features = load_function(load_bundle("image-pipeline").action("features"))
    from actionlib import synthetic

    image = synthetic.photo(3, 200, 150)
    one, two = features.feature_map(image, 1), features.feature_map(image, 3)
    assert one.shape == two.shape == (37, 50, 64)
    assert np.allclose(one, two, atol=1e-4)
