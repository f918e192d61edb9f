"""ml-pipeline / train_mlp: a one-hidden-layer MLP trained with mini-batch Adam.

Input: preprocess's output. `hidden` units (default 64), `epochs` (default 4) over shuffled
mini-batches of 2048 rows; each batch's gradient is summed over row shards in parallel.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import cpu
from model import load_split, one_hot, shards, softmax, summed

BATCH = 2048


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    Z, y = load_split(params, "train", workers)
    classes = params["dataset"]["classes"]
    Y = one_hot(y, classes)
    hidden, epochs = int(params.get("hidden", 64)), int(params.get("epochs", 4))
    rng = np.random.default_rng(params["dataset"]["seed"])
    weights = [
        (rng.standard_normal((Z.shape[1], hidden)) * np.sqrt(2 / Z.shape[1])).astype(np.float32),
        np.zeros(hidden, np.float32),
        (rng.standard_normal((hidden, classes)) * np.sqrt(1 / hidden)).astype(np.float32),
        np.zeros(classes, np.float32),
    ]
    adam = _Adam(weights)
    for _ in range(epochs):
        order = rng.permutation(len(Z))
        for start in range(0, len(Z), BATCH):
            idx = order[start : start + BATCH]
            Zb, Yb = Z[idx], Y[idx]
            grads = summed(
                lambda s, Zb=Zb, Yb=Yb: _backprop(weights, Zb[s], Yb[s]),
                shards(len(idx), workers),
                workers,
            )
            adam.step(weights, [g / len(idx) for g in grads])
    W1, b1, W2, b2 = weights
    return {
        "model": {
            "kind": "mlp",
            "W1": W1.round(5).tolist(),
            "b1": b1.round(5).tolist(),
            "W2": W2.round(5).tolist(),
            "b2": b2.round(5).tolist(),
        },
        "epochs": epochs,
        "workers": workers,
    }


def _backprop(weights, Z, Y):
    W1, b1, W2, b2 = weights
    pre = Z @ W1 + b1
    h = np.maximum(pre, 0)
    err = softmax(h @ W2 + b2) - Y
    dh = (err @ W2.T) * (pre > 0)
    return Z.T @ dh, dh.sum(axis=0), h.T @ err, err.sum(axis=0)


class _Adam:
    def __init__(self, weights, lr=0.01, b1=0.9, b2=0.999):
        self.lr, self.b1, self.b2, self.t = lr, b1, b2, 0
        self.m = [np.zeros_like(w) for w in weights]
        self.v = [np.zeros_like(w) for w in weights]

    def step(self, weights, grads):
        self.t += 1
        for i, g in enumerate(grads):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            m_hat = self.m[i] / (1 - self.b1**self.t)
            v_hat = self.v[i] / (1 - self.b2**self.t)
            weights[i] -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
