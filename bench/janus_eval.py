"""Janus evaluation: every shipped workflow under every sizing policy on the real platform.

For each workflow: deploy the bundle with the real CLI (``tango workflow deploy``), set its size
options, profile every function at every option on the evaluation inputs (real containers, sizes
bound by the invoker), set the SLO from calibration runs, synthesize hints, then drive the same
seeded input sequence with Poisson gaps under ``early-max``, ``early-static``, ``stepwise``,
``late`` and ``oracle``. The oracle's plan for each request is computed offline from that
request's own profiled per-option durations (``oracle-offline``: its profile-priced cost, the
lower bound) and then run live like the other policies (``oracle``, as ``plan:f=option,...``),
so every policy's cost is measured the same way, contention of the live platform included.
Prints a table, writes JSON and a PNG plot (core-seconds per run vs SLO attainment) to
``bench/results/janus/``.

    python3 bench/janus_eval.py [--workflows image-pipeline,video-analytics,ml-pipeline]
        [--inputs 10] [--repeats 2] [--requests 20] [--rate 0.5] [--slo-frac 0.1,0.3] [--seed 7]

Choices, and why:
- **Inputs.** Requests draw uniformly from the workflow's shipped ``inputs.jsonl``, a seeded
  sample of its heavy-tailed size distribution (Pareto rows or frames, log-normal megapixels):
  most requests are small, a few are very large. Profiled are every input the sequence draws
  (the oracle needs each request's own per-option durations) plus ``--inputs`` inputs at evenly
  spaced size ranks, the largest included, so the profiles cover the tail.
- **Platform.** A controller and one invoker started as a multi-node deployment would
  (``tango controller`` + ``tango invoker``), with an invoker id of its own (other platforms on
  the same Docker engine remove containers of their own invoker id at start) and
  ``--cpus 8``: the invoker's pool counts every live container's CPU quota as reserved, idle
  ones included, so at 2 "cores" a workflow at 2-core sizes keeps evicting its own warm
  containers and every activation is a cold start. Quotas stay hard limits (cgroup
  ``cpu.cfs_quota_us``); the host still has only its real cores.
- **Arrivals.** Poisson gaps (seeded, ``--rate`` per second) between requests, at most one
  request in flight: on 2 cores shared with other work, concurrent runs distort each other's
  timings. Each request runs once under every live policy, in a seeded random order, so slow
  spells of the shared machine hit all policies alike.
- **SLO.** From calibration runs of every evaluation input at the smallest and at the largest
  option (whole workflow, live): ``slo = p99(large) + frac * (p99(small) - p99(large))``,
  rounded up to 100 ms; one result per ``--slo-frac`` (same profiles, calibration and request
  sequence; hints synthesized for each SLO). Live runs rather than profiles because the
  profiles see each function alone on the host (parallel branches do not contend there; the
  items of a fan-out node share the invoker's cores, `Profiles.slots`).
- **Oracle.** Offline, from the profiles of the same inputs: per request, the cheapest
  per-node option assignment (core-ms = cpu x activation time summed over items) whose
  makespan over that input's profiled latencies meets the SLO, parallel branches holding their
  cores on the invokers' CPU as the invoker admits them (``cheapest_assignment`` with ``cores``
  and ``capacity``; early-static plans the same way on profiled tails). Its latency is the predicted critical path, its
  attainment the share of feasible plans: a lower bound on cost, not a measured run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.platform_process import GUEST_KEY, free_port  # noqa: E402
from controller.adapter.assignment import cheapest_assignment  # noqa: E402
from hint_dsl.profiles import Profiles, percentile  # noqa: E402
from workflows.packaging import load_bundle, shipped  # noqa: E402

RESULTS = REPO / "bench" / "results" / "janus"
LIVE_POLICIES = ("early-max", "early-static", "stepwise", "late", "oracle")
POLICIES = LIVE_POLICIES + ("oracle-offline",)
# Memory is not what these functions scale with, but decoding a 16 MP photo needs > 512 MB.
OPTIONS = (
    "option small  cpu 0.5 memory 1GB\n"
    "option medium cpu 1   memory 1GB\n"
    "option large  cpu 2   memory 2GB\n"
)
# How each workflow's inputs grow (for picking evaluation inputs across the heavy tail).
INPUT_SIZE = {
    "image-pipeline": lambda i: i["width"] * i["height"],
    "video-analytics": lambda i: i["frames"],
    "ml-pipeline": lambda i: i["rows"] * i["features"],
}


# ---- platform ------------------------------------------------------------------------------


class Platform:
    """Controller + one invoker as child processes (own process groups), SQLite in `workdir`."""

    def __init__(self, workdir: Path, cpus: float, user_memory: int):
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir, self.procs = workdir, []
        self.port, token = free_port(), os.urandom(8).hex()
        self.apihost = f"http://127.0.0.1:{self.port}"
        first = 20000 + 1000 * (os.getpid() % 20)
        self.log = open(workdir / "platform.log", "w")
        self._spawn(
            [
                "-m",
                "cli",
                "controller",
                "--port",
                str(self.port),
                "--data-dir",
                str(workdir / "data"),
                "--token",
                token,
            ]
        )
        self._wait(lambda: requests.get(self.apihost + "/ping", timeout=1).ok, "controller")
        self._spawn(
            [
                "-m",
                "invoker.server",
                "--id",
                f"janus-eval-{os.getpid()}",
                "--port",
                str(free_port()),
                "--controller",
                self.apihost,
                "--token",
                token,
                "--cpus",
                str(cpus),
                "--user-memory",
                str(user_memory),
                "--container-ports",
                f"{first}-{first + 999}",
                "--api-host",
                self.apihost,
            ]
        )
        self._wait(lambda: requests.get(self.apihost + "/invokers/ready", timeout=1).ok, "invoker")
        self.session = requests.Session()
        user, _, key = GUEST_KEY.partition(":")
        self.session.auth = (user, key)

    def _spawn(self, args: list[str]) -> None:
        self.procs.append(
            subprocess.Popen(
                [sys.executable, *args],
                cwd=REPO,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def _wait(self, ready, what: str, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            try:
                if ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{what} did not start; see {self.workdir / 'platform.log'}")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)

    def tango(self, *args: str) -> str:
        """The real CLI against this platform."""
        cp = subprocess.run(
            [sys.executable, "-m", "cli", "--apihost", self.apihost, "--auth", GUEST_KEY, *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if cp.returncode:
            raise RuntimeError(f"tango {' '.join(args)}: {cp.stderr or cp.stdout}")
        return cp.stdout

    def api(self, method: str, path: str, body=None, **query):
        r = self.session.request(
            method,
            f"{self.apihost}/api/v1/namespaces/_/{path}",
            json=body,
            params=query,
            timeout=600,
        )
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json()

    def raw_profiles(self, workflow: str) -> Profiles:
        """Profiles with every sample: read from the store this benchmark's controller owns
        (the REST answer summarises them)."""
        from controller.store.db import Database, default_url
        from controller.store.models import WorkflowRow

        db = Database(default_url(self.workdir / "data"))
        try:
            with db.session() as s:
                return Profiles.from_json(s.get(WorkflowRow, ("guest", workflow)).profiles)
        finally:
            db.dispose()


# ---- one workflow ----------------------------------------------------------------------------


def pick_inputs(name: str, inputs: list[dict], n: int) -> list[dict]:
    """n inputs spread over the size distribution: evenly spaced ranks, the largest included."""
    ranked = sorted(inputs, key=INPUT_SIZE[name])
    if n >= len(ranked):
        return ranked
    return (
        [ranked[round(i * (len(ranked) - 1) / (n - 1))] for i in range(n)] if n > 1 else ranked[-1:]
    )


def request_inputs(
    name: str, shipped: list[dict], spread: int, requests: int, rng: random.Random
) -> tuple[list[dict], list[int]]:
    """The inputs to profile and the request sequence (indices into them).

    Requests draw uniformly from the shipped inputs, a sample of the workflow's heavy-tailed
    input distribution, so large inputs are as rare as they are there. Profiled: every input
    drawn (the offline oracle needs each request's own per-option durations) plus `spread`
    inputs at evenly spaced ranks, the largest included, so the profiles cover the tail even
    when no request draws it."""
    drawn = [rng.randrange(len(shipped)) for _ in range(requests)]
    chosen = {json.dumps(shipped[i], sort_keys=True) for i in drawn}
    chosen |= {json.dumps(i, sort_keys=True) for i in pick_inputs(name, shipped, spread)}
    inputs = sorted((json.loads(c) for c in chosen), key=INPUT_SIZE[name])
    keys = [json.dumps(i, sort_keys=True) for i in inputs]
    return inputs, [keys.index(json.dumps(shipped[i], sort_keys=True)) for i in drawn]


def profile(plat: Platform, name: str, inputs: list[dict], repeats: int) -> float:
    t0 = time.time()
    plat.api("POST", f"workflows/{name}/profile", {"inputs": inputs, "repeats": repeats})
    while True:
        job = plat.api("GET", f"workflows/{name}/profile")["job"]
        print(
            f"\r  profiling {name}: {job['done']}/{job['total']}",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if job["state"] != "running":
            break
        time.sleep(1)
    print(file=sys.stderr)
    if job["state"] != "done":
        raise RuntimeError(f"profiling {name} failed: {job['error']}")
    return time.time() - t0


def run(plat: Platform, name: str, params: dict, policy: str) -> dict:
    """One blocking run; a failed run comes back as its record (502), not as an exception."""
    r = plat.session.post(
        f"{plat.apihost}/api/v1/namespaces/_/workflows/{name}",
        json=params,
        params={"blocking": "true", "policy": policy},
        timeout=600,
    )
    doc = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code >= 400 and "runId" not in doc:
        raise RuntimeError(f"POST workflows/{name}: {r.status_code} {r.text[:500]}")
    return doc


def run_once_more_on_failure(
    plat: Platform, name: str, params: dict, policy: str
) -> tuple[dict, int]:
    """A run that failed (e.g. a dropped controller-invoker connection, not a sizing outcome)
    is run once more; the second answer counts, failed or not. -> (run, failures seen)."""
    doc = run(plat, name, params, policy)
    if doc.get("status") == "success":
        return doc, 0
    print(
        f"\n  {policy} run failed ({doc.get('error', '')[:160]}); running it once more",
        file=sys.stderr,
    )
    return run(plat, name, params, policy), 1


def calibrate(plat: Platform, name: str, inputs: list[dict]) -> dict:
    """Live runs of every input at the smallest and the largest option (see module doc)."""
    lat = {
        opt: [run(plat, name, i, f"fixed:{opt}")["duration"] for i in inputs]
        for opt in ("small", "large")
    }
    return {
        "p99_small_ms": percentile(lat["small"], 99),
        "p99_large_ms": percentile(lat["large"], 99),
        "runs": lat,
    }


def slo_at(cal: dict, frac: float) -> int:
    """p99(all-large) + frac * (p99(all-small) - p99(all-large)), rounded up to 100 ms."""
    small, large = cal["p99_small_ms"], cal["p99_large_ms"]
    return math.ceil((large + frac * max(small - large, 0.0)) / 100.0) * 100


def with_slo(definition: str, slo_ms: int) -> str:
    """The workflow.yaml text with its SLO latency replaced."""
    lines = [
        f"slo: {{latency: {slo_ms}ms, percentile: 99}}" if line.startswith("slo:") else line
        for line in definition.splitlines()
    ]
    return "\n".join(lines) + "\n"


def activation_facts(plat: Platform, doc: dict) -> list[dict]:
    """Per activation: the size decided vs the size bound (annotation), resize time."""
    facts = []
    for node in doc["nodes"]:
        for act in node["activations"]:
            rec = plat.api("GET", f"activations/{act['activationId']}")
            ann = {a["key"]: a["value"] for a in rec.get("annotations", [])}
            facts.append(
                {
                    "node": node["id"],
                    "decisionUs": act["decisionUs"],
                    "decided": act["size"],
                    "bound": ann.get("size"),
                    "resizeMs": ann.get("resizeTime"),
                    "startKind": ann.get("startKind"),
                }
            )
    return facts


def oracle(workflow, profiles: Profiles, options: dict, run_index: int, slo_ms: float) -> dict:
    """The cheapest plan meeting the SLO on this input's profiled latencies (module doc)."""
    durations, core_ms, gb_ms, cores = {}, {}, {}, {}
    for n in workflow.nodes:
        durations[n.id], core_ms[n.id], gb_ms[n.id], cores[n.id] = {}, {}, {}, {}
        for opt, size in options.items():
            runs = [r for r in profiles.node_runs(n.id, opt) if r.run == run_index]
            durations[n.id][opt] = statistics.fmean(r.latency_ms for r in runs)
            work = statistics.fmean(r.work_ms for r in runs)
            core_ms[n.id][opt], gb_ms[n.id][opt] = size["cpu"] * work, size["memory"] / 1024 * work
            cores[n.id][opt] = profiles.held_cores(n.id, opt, run_index)
    plan = cheapest_assignment(
        workflow, durations, core_ms, slo_ms, cores=cores, capacity=profiles.capacity_cores
    )
    return {
        "options": plan.options,
        "feasible": plan.feasible,
        "duration": plan.makespan_ms,
        "coreSeconds": plan.cost / 1000.0,
        "gbSeconds": sum(gb_ms[n][o] for n, o in plan.options.items()) / 1000.0,
    }


def slim(report: dict) -> dict:
    """The synthesis report without its per-level tables (kept: sizes, rule counts, feasibility)."""
    functions = {
        f: {k: v for k, v in d.items() if k != "classes"}
        for f, d in report.get("functions", {}).items()
    }
    return {**report, "functions": functions}


def summarize(runs: list[dict], facts: list[dict]) -> dict:
    lat = [r["duration"] for r in runs]
    out = {
        "runs": len(runs),
        "sloAttainment": sum(bool(r["metSlo"]) for r in runs) / len(runs),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "coreSecondsPerRun": statistics.fmean(r["coreSeconds"] for r in runs),
        "gbSecondsPerRun": statistics.fmean(r["gbSeconds"] for r in runs),
        "failed": sum(r.get("status") != "success" for r in runs),
    }
    if facts:
        dec = [f["decisionUs"] for f in facts if f["decisionUs"] is not None]
        rs = [f["resizeMs"] for f in facts if f["resizeMs"] is not None]
        out.update(
            {
                "decision_us": {"p50": percentile(dec, 50), "p99": percentile(dec, 99)},
                "resize_ms": {
                    "p50": percentile(rs, 50),
                    "p99": percentile(rs, 99),
                    "resized": sum(r > 0 for r in rs),
                    "activations": len(rs),
                },
                "sizeMismatches": sum(
                    f["bound"] is None
                    or f["decided"] is None
                    or (f["bound"]["cpu"], f["bound"]["memory"])
                    != (f["decided"]["cpu"], f["decided"]["memory"])
                    for f in facts
                ),
                "coldStarts": sum(
                    f["startKind"] in ("cold", "recreated", "prewarmed") for f in facts
                ),
            }
        )
    return out


def evaluate(plat: Platform, name: str, args, rng: random.Random) -> list[dict]:
    """Profile and calibrate once, then one result per SLO fraction."""
    bundle = load_bundle(name)
    print(f"== {name}", file=sys.stderr)
    plat.tango("workflow", "deploy", name)
    header = f"workflow {name} slo {bundle.workflow.slo_ms:g}ms p99\n\n"
    plat.api("PUT", f"workflows/{name}/hints", {"hints": header + OPTIONS})
    inputs, sequence = request_inputs(name, bundle.inputs(), args.inputs, args.requests, rng)
    profile_s = profile(plat, name, inputs, args.repeats)
    cal = calibrate(plat, name, inputs)
    profiles = plat.raw_profiles(name)
    common = {"workflow": name, "inputs": inputs, "sequence": sequence, "profile_s": profile_s}
    return [
        common | drive(plat, bundle, profiles, inputs, sequence, cal, frac, args, rng)
        for frac in args.slo_frac
    ]


def drive(
    plat: Platform,
    bundle,
    profiles: Profiles,
    inputs: list[dict],
    sequence: list[int],
    cal: dict,
    frac: float,
    args,
    rng: random.Random,
) -> dict:
    """Set the SLO at `frac`, synthesize hints, run the sequence under every policy."""
    name, slo = bundle.workflow.name, slo_at(cal, frac)
    print(
        f"  SLO {slo} ms (p99 all-large {cal['p99_large_ms']:.0f}, all-small {cal['p99_small_ms']:.0f})",
        file=sys.stderr,
    )
    plat.api(
        "PUT",
        f"workflows/{name}",
        {"definition": with_slo(bundle.definition, slo)},
        overwrite="true",
    )
    synth = plat.api("POST", f"workflows/{name}/synthesize", {"percentile": 99})
    plat.api("PUT", f"workflows/{name}/hints", {"hints": synth["hints"]})
    options = {o: s.to_json() for o, s in profiles.options.items()}
    runs = {p: [] for p in POLICIES}
    facts = {p: [] for p in LIVE_POLICIES}
    retried = dict.fromkeys(LIVE_POLICIES, 0)
    for k, index in enumerate(sequence):
        time.sleep(rng.expovariate(args.rate) if args.rate > 0 else 0)
        plan = oracle(bundle.workflow, profiles, options, index, slo)
        planned = "plan:" + ",".join(f"{n}={o}" for n, o in plan["options"].items())
        for policy in rng.sample(LIVE_POLICIES, len(LIVE_POLICIES)):
            doc, failed = run_once_more_on_failure(
                plat, name, inputs[index], planned if policy == "oracle" else policy
            )
            retried[policy] += failed
            runs[policy].append(
                {
                    key: doc.get(key)
                    for key in (
                        "runId",
                        "duration",
                        "metSlo",
                        "coreSeconds",
                        "gbSeconds",
                        "status",
                        "error",
                    )
                }
                | {
                    "input": index,
                    "nodes": {n["id"]: (n["size"] or {}).get("option") for n in doc["nodes"]},
                }
            )
            if doc.get("status") == "success":  # a failed run's aborted activation has no record
                facts[policy] += activation_facts(plat, doc)
        runs["oracle-offline"].append(
            {
                "input": index,
                "duration": plan["duration"],
                "metSlo": plan["feasible"],
                "coreSeconds": plan["coreSeconds"],
                "gbSeconds": plan["gbSeconds"],
                "status": "success",
                "nodes": plan["options"],
            }
        )
        print(f"\r  request {k + 1}/{len(sequence)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return {
        "slo": {"slo_ms": slo, "frac": frac, **cal},
        "synthesis": slim(synth["report"]),
        "hints": synth["hints"],
        "policies": {p: summarize(runs[p], facts.get(p, [])) for p in POLICIES},
        "failedThenRerun": retried,
        "runs": runs,
    }


# ---- output ------------------------------------------------------------------------------------


def table(results: list[dict]) -> str:
    head = (
        f"{'workflow':<16} {'policy':<13} {'SLO met':>8} {'p50 ms':>8} {'p99 ms':>8} {'core-s':>7} "
        f"{'GB-s':>7} {'dec p50/p99 us':>15} {'resize p50/p99 ms':>18}"
    )
    lines = [head, "-" * len(head)]
    for res in results:
        for p, s in res["policies"].items():
            dec = s.get("decision_us")
            rsz = s.get("resize_ms")
            lines.append(
                f"{res['workflow']:<16} {p:<13} {100 * s['sloAttainment']:>7.1f}% {s['p50_ms']:>8.0f} "
                f"{s['p99_ms']:>8.0f} {s['coreSecondsPerRun']:>7.3f} {s['gbSecondsPerRun']:>7.3f} "
                + (
                    f"{dec['p50']:>7.1f}/{dec['p99']:<7.1f} {rsz['p50']:>8.2f}/{rsz['p99']:<9.2f}"
                    if dec
                    else f"{'(offline)':>15}"
                )
            )
        st = res["policies"]
        late = st["late"]["coreSecondsPerRun"]
        lines.append(
            f"{'':<16} late vs early-static {100 * (1 - late / st['early-static']['coreSecondsPerRun']):+.1f}% "
            f"less, vs early-max {100 * (1 - late / st['early-max']['coreSecondsPerRun']):+.1f}% less, "
            f"vs oracle {100 * (late / st['oracle']['coreSecondsPerRun'] - 1):+.1f}% more core-s "
            f"(vs its offline pricing {100 * (late / st['oracle-offline']['coreSecondsPerRun'] - 1):+.1f}%); "
            f"SLO {res['slo']['slo_ms']} ms (frac {res['slo']['frac']:g})"
        )
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {
        "early-max": "s",
        "early-static": "D",
        "stepwise": "^",
        "late": "o",
        "oracle": "*",
        "oracle-offline": "x",
    }
    cols = min(3, len(results))
    rows = math.ceil(len(results) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4.2 * rows), squeeze=False)
    for ax in axes.flat[len(results) :]:
        ax.axis("off")
    for ax, res in zip(axes.flat, results):
        for p, s in res["policies"].items():
            ax.scatter(
                s["coreSecondsPerRun"], 100 * s["sloAttainment"], marker=markers[p], s=90, label=p
            )
        ax.set_title(
            f"{res['workflow']} (SLO {res['slo']['slo_ms']} ms p99, frac {res['slo']['frac']:g})",
            fontsize=10,
        )
        ax.set_xlabel("core-seconds per run (mean)")
        ax.set_ylabel("SLO attainment (%)")
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "Janus: cost vs SLO attainment per sizing policy (oracle: its per-request plan run live; "
        "oracle-offline: the same plan priced from profiles)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def save(results: list[dict], out: Path, command: str, args, started: float) -> None:
    (out / "janus_eval.json").write_text(
        json.dumps(
            {
                "command": command,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "host": {"cpus": os.cpu_count()},
                "args": vars(args),
                "wall_s": round(time.time() - started),
                "table": table(results),
                "results": results,
            },
            indent=1,
        )
    )
    plot(results, out / "janus_eval.png")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--workflows", default=",".join(shipped()), help="comma-separated shipped workflows"
    )
    ap.add_argument(
        "--inputs",
        type=int,
        default=10,
        help="inputs at evenly spaced size ranks profiled besides those the requests draw",
    )
    ap.add_argument("--repeats", type=int, default=2, help="profiling repeats per input and option")
    ap.add_argument(
        "--requests", type=int, default=20, help="requests per workflow (each under every policy)"
    )
    ap.add_argument(
        "--rate", type=float, default=0.5, help="Poisson arrival rate (1/s); 0: back to back"
    )
    ap.add_argument(
        "--slo-frac",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.3],
        help="SLO position(s) between all-large and all-small p99, comma-separated",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cpus", type=float, default=8.0, help="invoker --cpus (see module doc)")
    ap.add_argument("--user-memory", type=int, default=12288)
    ap.add_argument("--workdir", default="/tmp/janus-eval")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the platform on the way out
    plat = Platform(Path(args.workdir) / str(os.getpid()), args.cpus, args.user_memory)
    command = "python3 bench/janus_eval.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = []
    try:
        for name in args.workflows.split(","):
            # One generator per workflow: its sequence does not depend on which others run.
            results += evaluate(plat, name, args, random.Random(args.seed))
            save(results, out, command.strip(), args, started)  # partial results survive a stop
    finally:
        plat.stop()
    print(table(results))
    print(
        f"wrote {out / 'janus_eval.json'} and {out / 'janus_eval.png'} ({time.time() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
