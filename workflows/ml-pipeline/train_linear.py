"""ml-pipeline / train_linear: multinomial logistic regression by full-batch gradient descent.

Input: preprocess's output. Runs `epochs` (default 60) of gradient descent with L2 penalty
and momentum; each epoch's gradient is summed over row shards computed in parallel.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import cpu
from model import load_split, one_hot, shards, softmax, summed


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    Z, y = load_split(params, "train", workers)
    classes = params["dataset"]["classes"]
    Y = one_hot(y, classes)
    W = np.zeros((Z.shape[1], classes), np.float32)
    b = np.zeros(classes, np.float32)
    vW, vb = np.zeros_like(W), np.zeros_like(b)
    parts = shards(len(Z), workers)
    lr, l2, epochs = 0.5, 1e-4, int(params.get("epochs", 60))

    def grad(s):
        err = softmax(Z[s] @ W + b) - Y[s]
        return Z[s].T @ err, err.sum(axis=0)

    for _ in range(epochs):
        gW, gb = summed(grad, parts, workers)
        vW = 0.9 * vW - lr * (gW / len(Z) + l2 * W)
        vb = 0.9 * vb - lr * gb / len(Z)
        W, b = W + vW, b + vb
    return {
        "model": {"kind": "linear", "W": W.round(5).tolist(), "b": b.round(5).tolist()},
        "epochs": epochs,
        "workers": workers,
    }
