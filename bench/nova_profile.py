"""`python bench/nova_profile.py ARGS`: runs `python -m runtimes.vlm.profile_stages ARGS` with one
local fix, until the profiler carries it itself (reported to the lead).

The profiler captures each decode CUDA graph from a closure whose input tensors (tokens, slots)
nothing keeps alive afterwards; once the caching allocator hands that memory to another stage (the
co-run phase), graph replays index the KV cache with garbage slots (device-side assert on the H100).
Here every batch size gets one closure, kept, so the graph's inputs outlive it.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from runtimes.vlm import profile_stages  # noqa: E402

_decode = profile_stages.Workloads.decode


def _kept_decode(self, batch: int):
    kept = self.__dict__.setdefault("_kept_decode", {})
    if batch not in kept:
        kept[batch] = _decode(self, batch)
    return kept[batch]


profile_stages.Workloads.decode = _kept_decode

if __name__ == "__main__":
    sys.exit(profile_stages.main())
