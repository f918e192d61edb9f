"""Janus evaluation: late binding against strong baselines on inputs it was never tuned on.

For each workflow, on the real platform (controller + invoker as child processes, real
containers, sizes bound by the invoker), driven through the CLI and the REST API:

1. **Split.** The shipped ``inputs.jsonl`` (a seeded sample of the workflow's heavy-tailed input
   sizes) is split into *training* inputs (evenly spaced size ranks, the largest included, so the
   profiles see the tail) and *held-out* inputs (a seeded sample of the rest). Only training
   inputs are profiled; every figure is measured on held-out inputs.
2. **Profile** the training inputs at every option (``--profile-repeats``); the raw profiles are
   saved with the result.
3. **SLO levels** (``--slo-levels``, >= 3) from the training profiles: from the tightest SLO the
   best static plan still meets at p99 on the training set (the all-fastest plan's training p99
   makespan, invoker CPU contention included) to a loose one (the all-cheapest plan's p99).
4. **Per-request measurements for the oracle.** Each held-out request runs ``--repeats`` times
   at every option (``fixed:<option>``, one run at a time); from the per-node median durations
   the oracle's plan for each request and SLO is the cheapest meeting it
   (`controller.adapter.static_plans.oracle_plan`): a lower bound by construction on the price of
   any plan *on those measurements*, never run live. Live runs of the policies happen at other
   moments of a shared host, so one of them can come out below it by luck; the paired repeats
   are what averages that out.
5. **Policies, live.** ``early-max``, ``early-static`` (ORION-style plan on the training
   profiles), ``class-static`` (one such plan per input-size class), ``power-tuning`` (cheapest
   option within 20 % of the fastest, per function) and ``late`` (hints synthesized for the SLO,
   the adapter's live model). Every held-out request under every policy, ``--repeats`` times;
   arrivals open-loop Poisson at each ``--loads`` fraction of the platform's capacity (host cores
   / mean core-seconds per request at the largest option), so requests overlap and contend; with
   ``--hog`` one more stream at the first load with a CPU hog (one spinning process per host
   core) started halfway through. Each (load, repeat) runs the policies one after another in a
   seeded random order, each policy on the same arrival times.
6. **Cost** per request: allocated core-seconds, GB-seconds and one price combining them at AWS
   Fargate's rates (`controller.adapter.model.Price`: $0.04048 per vCPU-hour, $0.004445 per
   GB-hour). **Statistics**: SLO attainment and mean price per policy, and for late against each
   baseline a paired bootstrap 95 % CI of the relative price difference and of the attainment
   difference (pairs: the same request, repeat and load under both policies); the share of the
   oracle's saving over the best static baseline that late captures.

7. **Thin profiles** (``--thin``): then 5 training inputs x 1 repeat replace the profiles; at
   the middle SLO, held-out requests under early-static and late before any live request, then
   ``--warmup`` (50) live late requests on training inputs, then the held-out requests under
   late again: what the live model corrects.

Everything is saved: the command, host, rates, raw profiles, synthesis reports, every request's
record, the per-option measurements and the oracle's plans.

    python3 bench/janus_eval.py --quick                      # one small workflow, minutes
    python3 bench/janus_eval.py --workflows ml-pipeline,blob-pipeline --train 12 --heldout 30 \\
        --repeats 3 --loads 0.5,0.8 --hog

``--quick`` is a smoke run of the whole method at the smallest scale (few inputs, one load, one
repeat): its figures carry no statistical weight and its JSON says so (``"quick": true``).
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.platform_process import GUEST_KEY, free_port  # noqa: E402
from common.sizes import Size  # noqa: E402
from common.stats import paired_bootstrap_ci, percentile  # noqa: E402
from controller.adapter.model import Price  # noqa: E402
from controller.adapter.static_plans import RunTable, _makespan, oracle_plan  # noqa: E402
from hint_dsl.profiles import Profiles  # noqa: E402
from workflows.packaging import load_bundle  # noqa: E402

RESULTS = REPO / "bench" / "results" / "janus"
LIVE_POLICIES = ("early-max", "early-static", "class-static", "power-tuning", "late")
STATIC_BASELINES = ("early-max", "early-static", "class-static", "power-tuning")
OPTION_LINES = {
    "default": (
        "option small  cpu 0.5 memory 512MB\n"
        "option medium cpu 1   memory 1GB\n"
        "option large  cpu 2   memory 2GB\n"
    ),
    # blob-pipeline's crunch holds about twice its input: memory is what the options differ in
    "blob-pipeline": (
        "option small  cpu 0.5 memory 256MB\n"
        "option medium cpu 1   memory 512MB\n"
        "option large  cpu 2   memory 1GB\n"
    ),
}
# How each workflow's inputs grow (for spreading training inputs over the size ranks).
INPUT_SIZE = {
    "image-pipeline": lambda i: i["width"] * i["height"],
    "video-analytics": lambda i: i["frames"],
    "ml-pipeline": lambda i: i["rows"] * i["features"],
    "blob-pipeline": lambda i: i["mb"],
}
PRICE = Price()


# ---- pure parts (tested in tests/bench/test_janus_eval.py) --------------------------------------


def split_inputs(
    inputs: list[dict], size, n_train: int, n_heldout: int, rng: random.Random
) -> tuple[list[dict], list[dict]]:
    """Training: `n_train` inputs at evenly spaced size ranks, the smallest and largest included;
    held-out: a seeded sample of `n_heldout` of the others. Disjoint by construction."""
    ranked = sorted(inputs, key=size)
    if n_train >= len(ranked):
        raise ValueError(f"{n_train} training inputs leave none of {len(ranked)} held out")
    if n_train == 1:
        picks = [len(ranked) - 1]
    else:
        picks = sorted({round(i * (len(ranked) - 1) / (n_train - 1)) for i in range(n_train)})
    train = [ranked[i] for i in picks]
    rest = [x for i, x in enumerate(ranked) if i not in set(picks)]
    return train, rng.sample(rest, min(n_heldout, len(rest)))


def slo_levels(workflow, table: RunTable, options: list[Size], capacity, n: int) -> list[int]:
    """`n` SLOs (ms, rounded up to 100) from the tightest a static plan meets at p99 on the
    training inputs (all-fastest plan) to the all-cheapest plan's p99, evenly spaced."""
    if n < 2:
        raise ValueError("at least two SLO levels")
    named = {o.option: o for o in options}
    fastest = max(options, key=lambda s: (s.cpu, s.memory)).option
    cheapest = min(options, key=lambda s: (s.cpu, s.memory)).option

    def p99(option):
        plan = {nd.id: option for nd in workflow.nodes}
        spans = [_makespan(workflow, plan, run, capacity, named) for run in table.runs.values()]
        finite = [s for s in spans if math.isfinite(s)]
        return percentile(finite, 99) if finite else math.inf

    tight, loose = p99(fastest), p99(cheapest)
    if not math.isfinite(loose) or loose < tight * 1.2:
        loose = tight * 2.0  # the cheapest plan cannot run some input, or barely differs
    return [math.ceil((tight + (loose - tight) * i / (n - 1)) / 100.0) * 100 for i in range(n)]


def poisson_arrivals(n: int, rate: float, rng: random.Random) -> list[float]:
    """Arrival times (s from the start) of `n` requests at `rate` per second."""
    t, out = 0.0, []
    for _ in range(n):
        t += rng.expovariate(rate)
        out.append(t)
    return out


def capacity_rps(host_cores: float, core_seconds_per_request: float) -> float:
    """Requests per second that keep the host's cores busy (the platform's capacity)."""
    return host_cores / max(core_seconds_per_request, 1e-9)


def request_cost(run: dict, price: Price = PRICE) -> dict:
    """Core-seconds, GB-seconds and price of one run record (per activation: size x duration)."""
    core_s = gb_s = dollars = 0.0
    for node in run.get("nodes", []):
        for act in node.get("activations", []):
            size = act.get("size")
            if not size or act.get("duration") is None:
                continue
            s = Size(size["cpu"], size["memory"])
            core_s += s.cpu * act["duration"] / 1e3
            gb_s += s.memory / 1024 * act["duration"] / 1e3
            dollars += price.of(s, act["duration"])
    return {"coreSeconds": core_s, "gbSeconds": gb_s, "price": dollars}


def node_measurements(run: dict) -> dict[str, tuple[float, float]]:
    """node -> (latency ms: first dispatch to last end, work ms: sum of activation durations)."""
    return {
        n["id"]: (
            float(n["duration"]),
            float(sum(a.get("duration") or 0.0 for a in n["activations"])),
        )
        for n in run.get("nodes", [])
        if n.get("status") == "success"
    }


def paired_bootstrap(
    pairs: list[tuple[float, float]], rng: random.Random, resamples: int = 2000
) -> dict:
    """Relative difference of means (b / a - 1) over paired samples, with a percentile
    bootstrap 95 % CI resampling the pairs. `pairs`: [(baseline, policy)]."""
    if not pairs:
        return {"n": 0, "estimate": None, "ci95": [None, None]}

    def stat(sample):
        a = sum(x for x, _ in sample)
        b = sum(y for _, y in sample)
        return b / a - 1.0 if a else math.nan

    return {
        "n": len(pairs),
        "estimate": stat(pairs),
        "ci95": list(paired_bootstrap_ci(pairs, stat, rng, resamples)),
    }


def paired_difference(
    pairs: list[tuple[float, float]], rng: random.Random, resamples: int = 2000
) -> dict:
    """Difference of means (policy - baseline), e.g. of SLO attainment (0/1), with a paired
    bootstrap 95 % CI."""
    if not pairs:
        return {"n": 0, "estimate": None, "ci95": [None, None]}

    def stat(sample):
        return sum(y - x for x, y in sample) / len(sample)

    return {
        "n": len(pairs),
        "estimate": stat(pairs),
        "ci95": list(paired_bootstrap_ci(pairs, stat, rng, resamples)),
    }


def oracle_share(best_static: float, late: float, oracle: float) -> float | None:
    """Share of the oracle's saving over the best static baseline that late captures."""
    saving = best_static - oracle
    return (best_static - late) / saving if saving > 0 else None


@dataclass(frozen=True)
class Cell:
    """One stream of requests: a load (fraction of capacity), a repeat and whether a CPU hog
    starts halfway."""

    load: float
    repeat: int
    hog: bool = False

    @property
    def label(self) -> str:
        return f"load {self.load:g}" + (" + hog" if self.hog else "")


def compare(records: list[dict], slo_ms: int, oracle: dict, rng: random.Random) -> dict:
    """Per condition (load, hog): each policy's attainment and mean cost, late against every
    static baseline (paired CIs) and the oracle's headroom. `records`: per request, with
    policy, label, repeat, input, metSlo, coreSeconds, gbSeconds, price."""
    out = {}
    for label in sorted({r["label"] for r in records}):
        rows = [r for r in records if r["label"] == label]
        by = {}
        for r in rows:
            by.setdefault(r["policy"], {})[(r["repeat"], r["input"], r["index"])] = r
        policies = {}
        for p, recs in by.items():
            vals = list(recs.values())
            policies[p] = {
                "requests": len(vals),
                "sloAttainment": sum(bool(v["metSlo"]) for v in vals) / len(vals),
                "coreSeconds": statistics.fmean(v["coreSeconds"] for v in vals),
                "gbSeconds": statistics.fmean(v["gbSeconds"] for v in vals),
                "price": statistics.fmean(v["price"] for v in vals),
                "p99_ms": percentile([v["duration"] for v in vals], 99),
            }
        versus = {}
        late = by.get("late", {})
        for base in STATIC_BASELINES:
            keys = [k for k in late if k in by.get(base, {})]
            if not keys:
                continue
            versus[base] = {
                "price": paired_bootstrap(
                    [(by[base][k]["price"], late[k]["price"]) for k in keys], rng
                ),
                "sloAttainment": paired_difference(
                    [(float(by[base][k]["metSlo"]), float(late[k]["metSlo"])) for k in keys], rng
                ),
            }
        meeting = [
            b
            for b in STATIC_BASELINES
            if b in policies
            and policies[b]["sloAttainment"]
            >= 0.99 * max(policies[x]["sloAttainment"] for x in STATIC_BASELINES if x in policies)
        ]
        best = min(meeting, key=lambda b: policies[b]["price"]) if meeting else None
        inputs = {k[1] for k in late}
        oracle_price = (
            statistics.fmean(oracle[i]["price"] for i in inputs if i in oracle)
            if any(i in oracle for i in inputs)
            else None
        )
        out[label] = {
            "policies": policies,
            "lateVersus": versus,
            "bestStatic": best,
            "oracle": {
                "price": oracle_price,
                "sloAttainment": (
                    statistics.fmean(float(oracle[i]["feasible"]) for i in inputs if i in oracle)
                    if oracle_price is not None
                    else None
                ),
                "lateCaptures": (
                    oracle_share(policies[best]["price"], policies["late"]["price"], oracle_price)
                    if best and "late" in policies and oracle_price is not None
                    else None
                ),
            },
        }
    return out


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
        self._guest_key(workdir / "data")
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

    @staticmethod
    def _guest_key(data: Path) -> None:
        """The benchmark's namespace and key, in the store it owns (a controller installs no
        development keys of its own)."""
        from controller.auth import Subjects
        from controller.store.db import Database, default_url

        data.mkdir(parents=True, exist_ok=True)
        db = Database(default_url(data))
        try:
            db.migrate()
            Subjects(db).ensure("guest", GUEST_KEY)
        finally:
            db.dispose()

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


def profile(plat: Platform, name: str, inputs: list[dict], repeats: int) -> float:
    t0 = time.time()
    plat.api("POST", f"workflows/{name}/profile", {"inputs": inputs, "repeats": repeats})
    while True:
        job = plat.api("GET", f"workflows/{name}/profile")["job"]
        print(f"\r  profiling {name}: {job['done']}/{job['total']}", end="", file=sys.stderr)
        if job["state"] != "running":
            break
        time.sleep(1)
    print(file=sys.stderr)
    if job["state"] != "done":
        raise RuntimeError(f"profiling {name} failed: {job['error']}")
    return time.time() - t0


def with_slo(definition: str, slo_ms: int) -> str:
    """The workflow.yaml text with its SLO latency replaced."""
    lines = [
        f"slo: {{latency: {slo_ms}ms, percentile: 99}}" if line.startswith("slo:") else line
        for line in definition.splitlines()
    ]
    return "\n".join(lines) + "\n"


def submit(plat: Platform, name: str, params: dict, policy: str) -> str:
    r = plat.session.post(
        f"{plat.apihost}/api/v1/namespaces/_/workflows/{name}",
        json=params,
        params={"blocking": "false", "policy": policy},
        timeout=60,
    )
    if r.status_code >= 400:
        raise RuntimeError(f"POST workflows/{name} ({policy}): {r.status_code} {r.text[:300]}")
    return r.json()["runId"]


def wait_runs(plat: Platform, run_ids: list[str], timeout_s: float = 1800) -> dict[str, dict]:
    done: dict[str, dict] = {}
    deadline = time.time() + timeout_s
    while len(done) < len(run_ids) and time.time() < deadline:
        for rid in run_ids:
            if rid not in done:
                doc = plat.api("GET", f"workflow-runs/{rid}")
                if doc.get("status") not in (None, "running"):
                    done[rid] = doc
        time.sleep(0.5)
    missing = [r for r in run_ids if r not in done]
    if missing:
        raise RuntimeError(f"{len(missing)} runs did not finish in {timeout_s:.0f} s")
    return done


class CpuHog:
    """One spinning process per host core (its own process group), stopped by pid."""

    def __init__(self):
        self.procs = []

    def start(self) -> None:
        for _ in range(os.cpu_count() or 1):
            self.procs.append(
                subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            )

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []


def stream(
    plat: Platform,
    name: str,
    policy: str,
    heldout: list[dict],
    order: list[int],
    arrivals: list[float],
    hog: bool,
) -> list[dict]:
    """Submit held-out requests `order` at `arrivals` (open loop) under `policy`; wait for all."""
    hog_proc = CpuHog()
    t0, ids, loads = time.time(), [], []
    try:
        for k, (index, at) in enumerate(zip(order, arrivals, strict=True)):
            time.sleep(max(0.0, t0 + at - time.time()))
            if hog and k == len(order) // 2:
                hog_proc.start()
            ids.append(submit(plat, name, heldout[index], policy))
            loads.append(os.getloadavg()[0])
        docs = wait_runs(plat, ids)
    finally:
        hog_proc.stop()
    out = []
    for k, (rid, index) in enumerate(zip(ids, order, strict=True)):
        doc = docs[rid]
        out.append(
            {
                "policy": policy,
                "index": k,
                "input": index,
                "runId": rid,
                "status": doc.get("status"),
                "error": doc.get("error"),
                "duration": doc.get("duration"),
                "metSlo": bool(doc.get("metSlo")),
                "hostLoadAtSubmit": loads[k],
                "hogRunning": hog and k >= len(order) // 2,
                "nodes": {
                    n["id"]: {
                        "option": (n.get("size") or {}).get("option"),
                        "rule": n.get("rule"),
                        "atRisk": n.get("atRisk"),
                        "decisionUs": [a.get("decisionUs") for a in n["activations"]],
                    }
                    for n in doc.get("nodes", [])
                },
                **request_cost(doc),
            }
        )
    return out


def measure_options(
    plat: Platform, name: str, heldout: list[dict], options: list[Size], repeats: int
) -> dict[int, dict]:
    """Each held-out request `repeats` times at every option, one run at a time: per node the
    median latency and work over the repeats are the oracle's durations (medians, so one slow
    spell of a shared host does not make an option look dear)."""
    out: dict[int, dict] = {}
    for i, params in enumerate(heldout):
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {}
        runs: dict[str, list[dict]] = {}
        for _ in range(repeats):
            for o in options:
                rid = submit(plat, name, params, f"fixed:{o.option}")
                doc = wait_runs(plat, [rid])[rid]
                runs.setdefault(o.option, []).append(
                    request_cost(doc) | {"duration": doc.get("duration"), "status": doc["status"]}
                )
                for node, m in node_measurements(doc).items():
                    samples.setdefault(node, {}).setdefault(o.option, []).append(m)
        nodes = {
            node: {
                o: (
                    statistics.median(lat for lat, _ in ms),
                    statistics.median(work for _, work in ms),
                )
                for o, ms in per.items()
                if len(ms) == repeats  # an option that failed on any repeat is out
            }
            for node, per in samples.items()
        }
        out[i] = {"nodes": nodes, "runs": runs}
        print(f"\r  per-option runs {i + 1}/{len(heldout)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def evaluate(plat: Platform, name: str, args, rng: random.Random) -> dict:
    bundle = load_bundle(name)
    print(f"== {name}", file=sys.stderr)
    plat.tango("workflow", "deploy", name)
    options_text = OPTION_LINES.get(name, OPTION_LINES["default"])
    header = f"workflow {name} slo {bundle.workflow.slo_ms:g}ms p99\n\n"
    plat.api("PUT", f"workflows/{name}/hints", {"hints": header + options_text})
    train, heldout = split_inputs(bundle.inputs(), INPUT_SIZE[name], args.train, args.heldout, rng)
    profile_s = profile(plat, name, train, args.profile_repeats)
    raw = plat.raw_profiles(name)
    options = list(raw.options.values())
    table = RunTable.from_profiles(bundle.workflow, raw)
    levels = slo_levels(bundle.workflow, table, options, raw.capacity_cores, args.slo_levels)
    print(f"  SLO levels {levels} ms", file=sys.stderr)
    measured = measure_options(plat, name, heldout, options, args.repeats)
    largest = max(options, key=lambda s: (s.cpu, s.memory)).option
    per_request_core_s = statistics.fmean(
        r["coreSeconds"] for m in measured.values() for r in m["runs"][largest]
    )
    capacity = capacity_rps(os.cpu_count() or 1, per_request_core_s)
    cells = [Cell(load, r) for load in args.loads for r in range(args.repeats)]
    if args.hog:
        cells += [Cell(args.loads[0], r, hog=True) for r in range(args.repeats)]
    results = []
    for slo in levels:
        synth = set_slo_and_hints(plat, name, bundle.definition, slo)
        oracle = {}
        for i, m in measured.items():
            plan = oracle_plan(bundle.workflow, m["nodes"], options, slo, PRICE, raw.capacity_cores)
            oracle[i] = {
                "options": plan.options,
                "feasible": plan.feasible,
                "duration": plan.tail_ms,
                "price": plan.price,
            }
        records = []
        for cell in cells:
            order = list(range(len(heldout)))
            rng.shuffle(order)
            arrivals = poisson_arrivals(len(order), cell.load * capacity, rng)
            for policy in rng.sample(LIVE_POLICIES, len(LIVE_POLICIES)):
                print(f"  SLO {slo} {cell.label} repeat {cell.repeat}: {policy}", file=sys.stderr)
                for rec in stream(plat, name, policy, heldout, order, arrivals, cell.hog):
                    records.append(rec | {"label": cell.label, "repeat": cell.repeat})
        results.append(
            {
                "slo_ms": slo,
                "synthesis": {k: v for k, v in synth["report"].items() if k != "functions"},
                "hints": synth["hints"],
                "oracle": oracle,
                "comparison": compare(records, slo, oracle, random.Random(args.seed)),
                "decision_us": _decision_percentiles(records),
                "records": records,
            }
        )
    thin = (
        thin_profiles(plat, bundle, train, heldout, levels, capacity, args, rng)
        if args.thin
        else None
    )
    return {
        "workflow": name,
        "thin": thin,
        "train": train,
        "heldout": heldout,
        "profile_s": profile_s,
        "profiles": raw.to_json(),
        "sloLevels": levels,
        "capacityRps": capacity,
        "perOption": {str(i): m for i, m in measured.items()},
        "results": results,
    }


def set_slo_and_hints(plat: Platform, name: str, definition: str, slo: int) -> dict:
    """Deploy workflow ``name`` with SLO ``slo`` and the hints synthesized (p99) from its
    profiles; the synthesis answer (``hints``, ``report``)."""
    plat.api(
        "PUT",
        f"workflows/{name}",
        {"definition": with_slo(definition, slo)},
        overwrite="true",
    )
    synth = plat.api("POST", f"workflows/{name}/synthesize", {"percentile": 99})
    plat.api("PUT", f"workflows/{name}/hints", {"hints": synth["hints"]})
    return synth


def thin_profiles(plat, bundle, train, heldout, levels, capacity, args, rng) -> dict:
    """Profiles as a developer in a hurry takes them (5 training inputs x 1 repeat, replacing the
    thorough ones: the controller rebuilds its policies), at the middle SLO level: held-out
    requests under early-static and late before any live request, then `--warmup` live
    requests under late on training inputs, then the held-out requests under late again."""
    name, slo = bundle.workflow.name, levels[len(levels) // 2]
    few, _ = split_inputs(train, INPUT_SIZE[name], min(5, len(train) - 1), 0, rng)
    profile(plat, name, few, 1)
    synth = set_slo_and_hints(plat, name, bundle.definition, slo)
    load = args.loads[0]
    order = list(range(len(heldout)))
    arrivals = poisson_arrivals(len(order), load * capacity, rng)
    records = []
    for label, policy in (("thin, cold", "early-static"), ("thin, cold", "late")):
        for rec in stream(plat, name, policy, heldout, order, arrivals, False):
            records.append(rec | {"label": label, "repeat": 0})
    warm_order = [rng.randrange(len(train)) for _ in range(args.warmup)]
    warm_arrivals = poisson_arrivals(len(warm_order), load * capacity, rng)
    stream(plat, name, "late", train, warm_order, warm_arrivals, False)
    for rec in stream(plat, name, "late", heldout, order, arrivals, False):
        records.append(rec | {"label": f"thin, after {args.warmup}", "repeat": 0})
    return {
        "slo_ms": slo,
        "load": load,
        "profiled": few,
        "warnings": synth["report"].get("warnings", []),
        "records": records,
        "comparison": compare(records, slo, {}, random.Random(args.seed)),
    }


def _decision_percentiles(records: list[dict]) -> dict:
    out = {}
    for policy in LIVE_POLICIES:
        xs = [
            us
            for r in records
            if r["policy"] == policy
            for n in r["nodes"].values()
            for us in n["decisionUs"]
            if us is not None
        ]
        out[policy] = {"p50": percentile(xs, 50), "p99": percentile(xs, 99), "n": len(xs)}
    return out


# ---- output ------------------------------------------------------------------------------------


def _pct(x) -> str:
    return "   n/a" if x is None else f"{100 * x:+6.1f}"


def table(evaluations: list[dict]) -> str:
    head = (
        f"{'workflow':<15} {'SLO ms':>7} {'condition':<13} {'policy':<13} {'SLO met':>8} "
        f"{'core-s':>7} {'GB-s':>7} {'price u$':>9}  late vs it: price % [95 % CI], SLO pts"
    )
    lines = [head, "-" * len(head)]
    for ev in evaluations:
        for res in ev["results"]:
            for label, cmp_ in res["comparison"].items():
                for p, s in cmp_["policies"].items():
                    vs = cmp_["lateVersus"].get(p)
                    extra = ""
                    if vs:
                        pr, at = vs["price"], vs["sloAttainment"]
                        extra = (
                            f"{_pct(pr['estimate'])} [{_pct(pr['ci95'][0])},{_pct(pr['ci95'][1])}]"
                            f", {_pct(at['estimate'])}"
                        )
                    lines.append(
                        f"{ev['workflow']:<15} {res['slo_ms']:>7} {label:<13} {p:<13} "
                        f"{100 * s['sloAttainment']:>7.1f}% {s['coreSeconds']:>7.3f} "
                        f"{s['gbSeconds']:>7.3f} {1e6 * s['price']:>9.2f}  {extra}"
                    )
                o = cmp_["oracle"]
                if o["price"] is not None:
                    lines.append(
                        f"{'':<15} {'':>7} {label:<13} {'oracle':<13} "
                        f"{100 * o['sloAttainment']:>7.1f}% {'':>7} {'':>7} "
                        f"{1e6 * o['price']:>9.2f}  best static: {cmp_['bestStatic']}, late "
                        f"captures {_pct(o['lateCaptures'])} % of the oracle's saving"
                    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workflows", default="ml-pipeline,blob-pipeline,image-pipeline")
    ap.add_argument("--train", type=int, default=12, help="training (profiled) inputs")
    ap.add_argument("--heldout", type=int, default=20, help="held-out (measured) inputs")
    ap.add_argument("--profile-repeats", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="repeats of every request and policy")
    ap.add_argument("--slo-levels", type=int, default=3)
    ap.add_argument(
        "--loads",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.5, 0.8],
        help="arrival rates as fractions of capacity",
    )
    ap.add_argument("--hog", action="store_true", help="one more stream with a CPU hog halfway")
    ap.add_argument(
        "--thin",
        action="store_true",
        help="then profile 5 inputs x 1 repeat and measure late before and after --warmup runs",
    )
    ap.add_argument("--warmup", type=int, default=50, help="live late runs before re-measuring")
    ap.add_argument("--quick", action="store_true", help="smoke run at the smallest scale")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cpus", type=float, default=8.0, help="invoker --cpus (its accounting)")
    ap.add_argument("--user-memory", type=int, default=12288)
    ap.add_argument("--workdir", default="/tmp/janus-eval")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    if args.quick:
        args.workflows = (
            "ml-pipeline" if args.workflows == ap.get_default("workflows") else args.workflows
        )
        args.train, args.heldout, args.profile_repeats = 4, 3, 1
        args.repeats, args.loads = 1, [0.5]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plat = Platform(Path(args.workdir) / str(os.getpid()), args.cpus, args.user_memory)
    command = "python3 bench/janus_eval.py " + " ".join(argv if argv is not None else sys.argv[1:])
    evaluations = []
    path = out / ("janus_eval_quick.json" if args.quick else "janus_eval.json")
    try:
        for name in args.workflows.split(","):
            evaluations.append(evaluate(plat, name, args, random.Random(args.seed)))
            path.write_text(
                json.dumps(
                    {
                        "command": command.strip(),
                        "quick": args.quick,
                        "note": (
                            "smoke run of the method at the smallest scale: no statistical weight"
                            if args.quick
                            else ""
                        ),
                        "date": datetime.now(UTC).isoformat(timespec="seconds"),
                        "host": {"cpus": os.cpu_count(), "loadavg_end": os.getloadavg()},
                        "price": {
                            "per_core_s": PRICE.per_core_s,
                            "per_gb_s": PRICE.per_gb_s,
                            "source": "AWS Fargate Linux/x86 us-east-1: $0.04048/vCPU-h, "
                            "$0.004445/GB-h",
                        },
                        "args": vars(args),
                        "wall_s": round(time.time() - started),
                        "table": table(evaluations),
                        "evaluations": evaluations,
                    },
                    indent=1,
                )
            )
    finally:
        plat.stop()
    print(table(evaluations))
    print(f"wrote {path} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
