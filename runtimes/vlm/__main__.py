"""`python -m runtimes.vlm`: start the VLM action runtime on $__OW_PROXY_HOST:$__OW_PROXY_PORT.

The container entry point of the `tango/action-vlm` images (docker/vlm/); the model is chosen
later by `/init` (see `runtimes.vlm.server`).
"""

from runtimes.vlm.server import serve

if __name__ == "__main__":
    serve()
