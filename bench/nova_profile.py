"""`python bench/nova_profile.py ARGS`: `python -m runtimes.vlm.profile_stages ARGS` with the local
fixes of `bench/nova_patches.py` (the stage tables then match what the benchmark runs)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.nova_patches import apply_all  # noqa: E402

if __name__ == "__main__":
    print("patches:", apply_all(), flush=True)
    from runtimes.vlm import profile_stages
    sys.exit(profile_stages.main())
