"""ml-pipeline / preprocess: fit the feature transform on the training split.

Input: {"seed", "rows", "features", "classes"?} names a stored table (materialised by
`actionlib.synthetic.dataset`; the last 20 % of rows are the test split). Computes robust
per-feature statistics (median, inter-quartile range) on the training rows - column groups in
parallel - and ranks features by their correlation with the label. Output: the dataset
reference and the transform that `train_*` and `evaluate` apply (kept small: no rows).
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import cpu, synthetic

TEST_FRACTION = 0.2


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    data = {
        "seed": int(params["seed"]),
        "rows": int(params["rows"]),
        "features": int(params["features"]),
        "classes": int(params.get("classes", 2)),
    }
    train_rows = int(data["rows"] * (1 - TEST_FRACTION))
    X, y = synthetic.dataset(
        data["seed"], 0, train_rows, data["features"], data["classes"], workers
    )
    columns = cpu.bands(X.shape[1], workers)
    stats = cpu.parallel_map(lambda c: _robust_stats(X[:, c[0] : c[1]]), columns, workers)
    median = np.concatenate([s[0] for s in stats])
    scale = np.concatenate([s[1] for s in stats])
    Z = np.nan_to_num(np.clip((X - median) / scale, -5, 5))
    score = np.abs(np.corrcoef(np.column_stack([Z, y]), rowvar=False)[-1, :-1])
    return {
        "dataset": {**data, "train_rows": train_rows},
        "transform": {"median": median.round(6).tolist(), "scale": scale.round(6).tolist()},
        "ranking": [int(i) for i in np.argsort(-np.nan_to_num(score))],
        "missing": round(float(np.isnan(X).mean()), 5),
        "workers": workers,
    }


def _robust_stats(block: np.ndarray):
    q1, median, q3 = np.nanpercentile(block, [25, 50, 75], axis=0)
    return median, np.where(q3 - q1 > 0, q3 - q1, 1.0)
