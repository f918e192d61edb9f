"""bench/procs.py read against real processes of this test."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import procs


def test_children_argv_tree_and_cpu_of_real_processes():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; sum(range(3_000_000)); time.sleep(30)",
            "-m",
            "invoker.server",
            "--id",
            "inv7",
        ]
    )
    try:
        deadline = time.time() + 10
        while procs.cpu_seconds([child.pid]) == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert child.pid in procs.children_of(os.getpid())
        assert procs.tree(os.getpid())[0] == os.getpid() and child.pid in procs.tree(os.getpid())
        assert procs.argv(child.pid)[-2:] == ["--id", "inv7"]
        assert procs.invoker_children(os.getpid()) == {"inv7": child.pid}
        assert procs.cpu_seconds([child.pid]) > 0
    finally:
        child.kill()
        child.wait()
    assert procs.argv(child.pid) == [] and procs.cpu_seconds([child.pid]) == 0
