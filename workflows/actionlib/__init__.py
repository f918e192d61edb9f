"""Helpers shared by the shipped workflows' action functions (packed into every action's zip).

Each shipped function is deployed as a zip action: its file becomes `__main__.py` and this
package sits beside it (see `workflows/packaging.py`), so it must run in the `python:3.11`
runtime image, which has only python3, numpy and Pillow (Debian bookworm versions).

- `cpu`: how many cores this container may use right now (cgroup quota, read at each
  invocation because the invoker resizes warm containers in place) and a thread pool of
  that size; the heavy numpy work of every function is split over it.
- `synthetic`: deterministic data sources (photos, videos, tabular datasets) generated
  from a seed; they stand in for the object store real pipelines read from, so steps pass
  small references and results instead of bulk data (OpenWhisk caps payloads at 1 MB).
- `codec`: images to and from base64 JPEG/PNG for the small payloads between steps.

Import this package before numpy: it limits BLAS to one thread per worker, so that the
function's own thread pool, sized to the cgroup quota, is what decides its parallelism.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
