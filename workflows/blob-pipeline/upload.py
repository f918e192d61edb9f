"""blob-pipeline / upload: write the request's blob into Redis in 1 MB chunks.

Input: {"seed", "mb", "link_mb_s"?}. The blob (uint32 words from the seed) stands for the object
a client uploads; its chunks go to Redis under a prefix unique to this activation (runs of the
same input never share keys), with a 10-minute expiry as a safety net. Output: the prefix and
chunk count the other functions read, and the link rate `replicate` emulates (MB/s).
"""

import uuid

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import store

CHUNK_WORDS = (1 << 20) // 4


def main(params: dict) -> dict:
    seed, mb = int(params["seed"]), float(params["mb"])
    chunks = max(1, int(round(mb)))
    prefix = f"blob:{uuid.uuid4().hex}"
    rng = np.random.default_rng(seed)
    with store.connect(params) as r:
        for i in range(chunks):
            r.set(
                f"{prefix}:raw:{i}", rng.integers(0, 2**32, CHUNK_WORDS, dtype=np.uint32).tobytes()
            )
    return {
        "prefix": prefix,
        "chunks": chunks,
        "mb": mb,
        "seed": seed,
        "link_mb_s": float(params.get("link_mb_s", 100.0)),
    }
