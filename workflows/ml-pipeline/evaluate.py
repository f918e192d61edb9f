"""ml-pipeline / evaluate: score both trained models on the test split and pick the better.

Input (fan-in): {"preprocess": ..., "train_linear": ..., "train_mlp": ..., "_input": ...};
preprocess gives the dataset reference and the transform. Reports accuracy, log-loss,
macro-F1 and the confusion matrix of each model.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import cpu
from model import load_split, predict, shards

MODELS = ("train_linear", "train_mlp")


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    source = params["preprocess"]
    Z, y = load_split(source, "test", workers)
    classes = source["dataset"]["classes"]
    scores = {name: _score(params[name]["model"], Z, y, classes, workers) for name in MODELS}
    best = max(scores, key=lambda n: (scores[n]["accuracy"], -scores[n]["log_loss"]))
    return {"best": best, "scores": scores, "test_rows": int(len(y)), "workers": workers}


def _score(model: dict, Z, y, classes: int, workers: int) -> dict:
    probs = np.concatenate(
        cpu.parallel_map(lambda s: predict(model, Z[s]), shards(len(Z), workers), workers)
    )
    guess = probs.argmax(axis=1)
    confusion = np.zeros((classes, classes), int)
    np.add.at(confusion, (y, guess), 1)
    tp = np.diag(confusion).astype(float)
    f1 = 2 * tp / np.maximum(confusion.sum(0) + confusion.sum(1), 1)
    loss = -np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-9, 1)))
    return {
        "accuracy": round(float((guess == y).mean()), 5),
        "log_loss": round(float(loss), 5),
        "macro_f1": round(float(f1.mean()), 5),
        "confusion": confusion.tolist(),
    }
