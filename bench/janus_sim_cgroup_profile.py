"""Profile the shipped workflows' functions in cgroup-confined processes, without Docker.

For the simulator's validation (`bench/janus_sim_validate.py`): the committed live evaluation
runs (`bench/results/janus/janus_eval*.json`) did not save their raw profiles, so the
per-(function, option, input) run times the simulator needs are measured again here, on the
same inputs, with Tango's own profiler (`hint_dsl.profiler.profile`: the same walk, the same
node inputs built by the engine's `build_node_input`). Each size option runs in a long-lived
worker process (a warm container's analogue) in a cgroup v2 group of its own: `cpu.max` is the
option's quota, `cpuset.cpus` gives it 2 CPUs up to 2 cores (the evaluation host had 2) and
ceil(c) CPUs above, and the function reads its quota from that group (`TANGO_CGROUP_ROOT`, as
`actionlib.cpu` does in a container). Memory is not limited.

Options above the evaluation host's 2 cores (4 and 8 by default) are measured too: the check
of the simulator's speed-up extrapolation. Run as root on a machine with cgroup v2 and free
cores (the device machine: 16 cores, no Docker); workflows are profiled in parallel, each on
CPUs of its own.

    python3 bench/janus_sim_cgroup_profile.py --out DIR [--repeats 2] [--workflows a,b]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.sizes import Size  # noqa: E402
from hint_dsl.profiler import profile  # noqa: E402
from workflows.packaging import load_bundle  # noqa: E402

CGROUP = Path("/sys/fs/cgroup")
OPTIONS = {"small": 0.5, "medium": 1.0, "large": 2.0, "xl": 4.0, "xxl": 8.0}  # cores
MEMORY = {"small": 1024, "medium": 1024, "large": 2048, "xl": 4096, "xxl": 8192}
SOURCES = {
    "ml-pipeline": "janus_eval.json",
    "video-analytics": "janus_eval.json",
    "image-pipeline": "janus_eval.json",
}

WORKER = r"""
import json, sys, time, traceback
sys.path[:0] = sys.argv[1:]
from workflows.packaging import load_bundle, load_function
bundle = load_bundle(sys.argv[-1])
mains = {}
for line in sys.stdin:
    msg = json.loads(line)
    try:
        name = msg["action"].split("/")[-1]
        if name not in mains:
            mains[name] = load_function(bundle.action(name)).main
        t0 = time.perf_counter()
        result = mains[name](msg["params"])
        ms = (time.perf_counter() - t0) * 1000.0
        out = {"duration": ms, "response": {"success": True, "result": result}}
    except Exception as e:
        out = {"duration": 0, "response": {"success": False, "result": {"error": traceback.format_exc()[-800:]}}}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""


def enable_controllers(group: Path) -> None:
    for path in (CGROUP, group):
        try:
            (path / "cgroup.subtree_control").write_text("+cpu +cpuset")
        except OSError as e:
            raise SystemExit(f"cannot enable cpu/cpuset controllers in {path}: {e}") from e


class Worker:
    """One option's process, confined to its own cgroup."""

    def __init__(self, group: Path | None, cpu: float, cpus: str, workflow: str):
        path = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        if group is not None:
            group.mkdir(exist_ok=True)
            (group / "cpuset.cpus").write_text(cpus)
            (group / "cpu.max").write_text(f"{int(cpu * 100000)} 100000")
            env["TANGO_CGROUP_ROOT"] = str(group)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(REPO), workflow],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=(
                (lambda: (group / "cgroup.procs").write_text(str(os.getpid())))
                if group is not None
                else None
            ),
        )
        self.lock = threading.Lock()

    def call(self, action: str, params: dict) -> dict:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None  # both are pipes
        with self.lock:
            stdin.write(json.dumps({"action": action, "params": params}) + "\n")
            stdin.flush()
            return json.loads(stdout.readline())

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(30)


def profile_workflow(name: str, inputs: list[dict], first_cpu: int, args, out: Path) -> None:
    bundle = load_bundle(name)
    root = CGROUP / "janus-sim"
    workers = {}
    for opt in args.options:
        cores = OPTIONS[opt]
        span = max(2, math.ceil(cores))
        cpus = f"{first_cpu}-{first_cpu + span - 1}"
        group = None if args.no_cgroup else root / f"{name}-{opt}"
        workers[opt] = Worker(group, cores, cpus, name)
    sizes = [Size(OPTIONS[o], MEMORY[o], o) for o in args.options]
    t0 = time.time()

    def invoke(action: str, params: dict, size: Size) -> dict:
        return workers[size.option].call(action, params)

    def progress(done: int, total: int) -> None:
        if done % 50 == 0:
            print(
                f"  {name}: {done}/{total} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True
            )

    try:
        prof = profile(
            bundle.workflow,
            inputs,
            sizes,
            args.repeats,
            invoke,
            progress,
            reference=next(s for s in sizes if s.option == "large"),
            capacity_cores=2.0,
        )
    finally:
        for w in workers.values():
            w.stop()
    doc = {
        "command": "python3 bench/janus_sim_cgroup_profile.py " + " ".join(sys.argv[1:]),
        "host": {"machine": platform.node(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "workflow": name,
        "source": SOURCES[name],
        "inputs": inputs,
        "wall_s": round(time.time() - t0, 1),
        "profiles": prof.to_json(),
    }
    (out / f"profiles_{name}.json").write_text(json.dumps(doc))
    print(f"  {name}: done in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workflows", default=",".join(SOURCES))
    ap.add_argument("--options", default="small,medium,large,xl")
    ap.add_argument("--limit-inputs", type=int, help="only the first N inputs (a smoke test)")
    ap.add_argument("--no-cgroup", action="store_true", help="no confinement (a smoke test)")
    args = ap.parse_args(argv)
    args.options = args.options.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = CGROUP / "janus-sim"
    if not args.no_cgroup:
        root.mkdir(exist_ok=True)
        enable_controllers(root)
    results = REPO / "bench" / "results" / "janus"
    threads = []
    width = max(math.ceil(OPTIONS[o]) for o in args.options)
    for k, name in enumerate(args.workflows.split(",")):
        doc = json.loads((results / SOURCES[name]).read_text())
        inputs = next(r["inputs"] for r in doc["results"] if r["workflow"] == name)
        inputs = inputs[: args.limit_inputs] if args.limit_inputs else inputs
        first = (k * width) % max(1, (os.cpu_count() or 16) - width + 1)
        t = threading.Thread(target=profile_workflow, args=(name, inputs, first, args, out))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
