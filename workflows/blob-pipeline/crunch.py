"""blob-pipeline / crunch: sort the blob's words and summarise them (CPU- and memory-bound).

Reads every chunk from Redis into one array (the whole blob in memory: about twice its size at
peak, with the chunks read or the sorted bands beside it), sorts it in bands on a pool sized to
the container's CPU quota, and writes the summary back to Redis. A 200 MB input needs more than
400 MB: at a smaller memory option it runs out of memory, which the adapter must learn.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import cpu, store


def main(params: dict) -> dict:
    prefix, chunks = params["prefix"], int(params["chunks"])
    workers = cpu.worker_count()
    with store.connect(params) as r:
        words = np.frombuffer(
            b"".join(r.get(f"{prefix}:raw:{i}") or b"" for i in range(chunks)), dtype=np.uint32
        )
        parts = cpu.bands(len(words), max(workers * 4, 1))
        sorted_bands = cpu.parallel_map(lambda b: np.sort(words[b[0] : b[1]]), parts, workers)
        medians = [int(s[len(s) // 2]) for s in sorted_bands if len(s)]
        summary = {
            "words": int(len(words)),
            "median_of_medians": int(np.median(medians)) if medians else 0,
            "max": int(max(int(s[-1]) for s in sorted_bands if len(s))) if len(words) else 0,
        }
        r.set(f"{prefix}:summary", repr(summary).encode())
    return {**summary, "workers": workers}
