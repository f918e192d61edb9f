"""common.ids: random ids are 32 hex digits, distinct, and a forked child does not repeat its
parent's."""

from __future__ import annotations

import os
import re

from common.ids import random_id


def test_ids_are_32_hex_digits_and_distinct():
    ids = [random_id() for _ in range(5000)]  # more than one 4 KiB chunk
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_repeat_the_parents_ids():
    random_id()  # the parent holds a partly used chunk
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(r)
        os.write(w, random_id().encode())
        os._exit(0)
    os.close(w)
    child = os.read(r, 64).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert re.fullmatch(r"[0-9a-f]{32}", child) and child != random_id()
