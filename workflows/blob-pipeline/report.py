"""blob-pipeline / report: join both branches' results and delete the blob from Redis."""

import actionlib  # noqa: F401
from actionlib import store


def main(params: dict) -> dict:
    up = params["upload"]
    prefix, chunks = up["prefix"], int(up["chunks"])
    with store.connect(params) as r:
        deleted = r.delete(
            *[f"{prefix}:raw:{i}" for i in range(chunks)], f"{prefix}:replica", f"{prefix}:summary"
        )
    return {
        "mb": up["mb"],
        "crc": params["replicate"]["crc"],
        "median_of_medians": params["crunch"]["median_of_medians"],
        "deleted": deleted,
    }
