"""Shared by the ml-pipeline steps: loading a split, applying the transform, the two models.

Lives beside the step files; `deploy.json` packs it into their zips with `actionlib`.
Gradients are computed over row shards in parallel and summed, so a training step's speed
follows the container's CPU quota.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import cpu, synthetic


def load_split(params: dict, split: str, workers: int):
    d = params["dataset"]
    start, stop = (0, d["train_rows"]) if split == "train" else (d["train_rows"], d["rows"])
    X, y = synthetic.dataset(d["seed"], start, stop, d["features"], d["classes"], workers)
    t = params["transform"]
    Z = np.clip((X - np.asarray(t["median"])) / np.asarray(t["scale"]), -5, 5)
    return np.nan_to_num(Z).astype(np.float32), y


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def predict(model: dict, Z: np.ndarray) -> np.ndarray:
    """Class probabilities of a linear or MLP model as produced by the train steps."""
    if model["kind"] == "linear":
        return softmax(Z @ np.asarray(model["W"], np.float32) + np.asarray(model["b"], np.float32))
    hidden = np.maximum(
        Z @ np.asarray(model["W1"], np.float32) + np.asarray(model["b1"], np.float32), 0
    )
    return softmax(
        hidden @ np.asarray(model["W2"], np.float32) + np.asarray(model["b2"], np.float32)
    )


def shards(rows: int, workers: int) -> list[slice]:
    return [slice(a, b) for a, b in cpu.bands(rows, workers)]


def summed(grad_fn, parts: list[slice], workers: int):
    """Sum per-shard gradient tuples computed in parallel."""
    results = cpu.parallel_map(grad_fn, parts, workers)
    return [sum(r[i] for r in results) for i in range(len(results[0]))]


def one_hot(y: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[y]
