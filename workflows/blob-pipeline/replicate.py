"""blob-pipeline / replicate: copy the blob to a remote replica over a slow link (I/O-bound).

Reads each chunk from Redis and sends it over an emulated wide-area link of `link_mb_s` MB/s
(the activation waits chunk size / rate per chunk: the far side is not part of this host), then
records a CRC per chunk in Redis. Waiting dominates: more cores do not make it faster, so a large
size only costs more. Output: the number of chunks and a combined checksum.
"""

import time
import zlib

import actionlib  # noqa: F401
from actionlib import store


def main(params: dict) -> dict:
    prefix, chunks = params["prefix"], int(params["chunks"])
    per_chunk_s = 1.0 / max(float(params.get("link_mb_s", 100.0)), 1e-3)
    crc = 0
    with store.connect(params) as r:
        for i in range(chunks):
            data = r.get(f"{prefix}:raw:{i}") or b""
            time.sleep(per_chunk_s * len(data) / (1 << 20))  # the link, not the CPU
            crc = zlib.crc32(data, crc)
        r.set(f"{prefix}:replica", str(crc).encode())
    return {"chunks": chunks, "crc": crc}
