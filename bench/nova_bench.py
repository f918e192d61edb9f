"""Nova benchmark: every scheduling policy on the same request sequences, in-process on one GPU.

For each policy the engine (`runtimes.vlm.engine`) serves identical seeded workloads
(`bench/nova_workload.py`): Poisson arrivals at fractions of capacity and a bursty process
(cv >= 3). Capacity is 1 / E[vision + prefill] on the whole GPU, measured here first (the
compute stages are the pipeline's bottleneck). Reported per run: max, p99 and mean end-to-end
latency, TTFT, time per output token and throughput. Optional: the nova policy with the
vision encoder streamed from pinned host memory against resident weights (`--offload`).
Saves JSON (command, card, versions, per-run summaries) and a latency-vs-throughput Pareto PNG.

    python bench/nova_bench.py --preset qwen2-vl-7b --tables T.json --out bench/results/nova
    python bench/nova_bench.py --plot bench/results/nova/bench_qwen2-vl-7b.json   # re-plot only
    python bench/nova_bench.py --preset tiny --device cpu --n 6 --loads 0.5 --out /tmp/nb  # smoke
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from bench.nova_workload import (  # noqa: E402
    SCREENS,
    gap_cv,
    make_workload,
    prompt_ids,
    screenshot,
    with_deadlines,
)
from runtimes.vlm.engine import DeadlineUnreachable, Engine, EngineConfig, percentiles  # noqa: E402
from runtimes.vlm.partition import make_partitioner  # noqa: E402
from runtimes.vlm.preprocess import preprocess_image  # noqa: E402
from runtimes.vlm.scheduler.policies import POLICY_NAMES, make_policy  # noqa: E402
from runtimes.vlm.scheduler.tables import StageTables, default_tables  # noqa: E402
from runtimes.vlm.server import stream_vision_weights  # noqa: E402
from runtimes.vlm.weights import load_vlm  # noqa: E402


def card(device: str) -> dict:
    info = {"torch": torch.__version__, "python": platform.python_version(), "device": device}
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        info.update(
            name=p.name,
            sms=p.multi_processor_count,
            memory_gib=round(p.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
        )
    return info


class Bench:
    """Holds the model, the preprocessed screenshots and the measured capacity for all runs."""

    def __init__(self, args):
        self.args = args
        self.cuda = args.device.startswith("cuda")
        dtype = torch.bfloat16 if self.cuda else torch.float32
        self.model = load_vlm(args.preset, args.device, dtype, seed=0)[0]
        cfg = self.model.config
        self.tables = StageTables.load(args.tables) if args.tables else default_tables()
        self.images = {}
        self.max_pixels = min(cfg.max_pixels, args.max_pixels)
        for screen in SCREENS:
            pv, grid = preprocess_image(
                screenshot(screen), cfg.min_pixels, self.max_pixels, cfg.vision
            )
            self.images[screen] = (pv.pin_memory() if self.cuda else pv, grid)
        self.capacity, self.service_ms = self.measure_capacity()

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def measure_capacity(self) -> tuple[float, dict]:
        """1 / E[vision + prefill] on the whole GPU, over the two screen kinds (ms per stage)."""
        from runtimes.vlm.model import KVCache

        m, out = self.model, {}
        cache = KVCache(
            m.config,
            1,
            self.args.max_len,
            next(m.text.parameters()).device,
            next(m.text.parameters()).dtype,
        )
        with torch.inference_mode():
            for screen, (pv, grid) in self.images.items():
                ids = [m.config.vision_start_id, m.config.vision_end_id] + [1] * 65
                times = []
                for _ in range(3):
                    self.sync()
                    t0 = time.perf_counter()
                    emb = m.vision(pv.to(m.text.embed_tokens.weight.device), grid)
                    self.sync()
                    t1 = time.perf_counter()
                    inp, pos = m.build_inputs(ids, emb.shape[0], grid)
                    m.prefill(inp, pos, emb, cache, 0)
                    self.sync()
                    times.append(((t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3))
                vis, pre = times[-1]
                out[screen] = {
                    "patches": int(pv.shape[0]),
                    "prompt_tokens": int(inp.shape[1]),
                    "vision_ms": round(vis, 3),
                    "prefill_ms": round(pre, 3),
                }
        mean_s = statistics.mean(v["vision_ms"] + v["prefill_ms"] for v in out.values()) / 1e3
        return 1.0 / mean_s, out

    def engine(self, policy_name: str, vision=None) -> Engine:
        a = self.args
        name, params = policy_variant(policy_name)
        policy = make_policy(name, self.tables, None, max_batch=a.max_batch, **params)
        partitioner = make_partitioner("green" if self.cuda else "noop")
        cfg = EngineConfig(
            max_batch=a.max_batch,
            max_len=a.max_len,
            use_graphs=not a.no_graphs,
            compile=not a.no_compile,
            kernels=a.kernels,
            fp8=a.fp8,
            stop_at_eos=False,
            compute_priority=a.compute_priority,
        )
        return Engine(self.model, policy, partitioner, cfg, vision=vision).start()

    def serve(self, engine: Engine, items) -> dict:
        """Submit `items` at their arrival times; wait for all; summarise latencies.

        Items with a deadline are submitted with it: a request refused at admission, or failed
        because its deadline passed before it could start, counts against attainment."""
        cfg = self.model.config
        reqs, t0, refused = [], time.perf_counter() + 0.05, []
        for it in items:
            delay = t0 + it.at_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pv, grid = self.images[it.screen]
            at = t0 + it.at_s
            due = None if it.deadline_s is None else at + it.deadline_s
            try:
                r = engine.submit(
                    prompt_ids(it, cfg), it.output_len, pv, grid, deadline=due, arrival=at
                )
            except DeadlineUnreachable:
                refused.append(it)
                continue
            reqs.append((it, r))
        deadline = time.perf_counter() + self.args.run_timeout
        for _, r in reqs:
            r.wait(max(1.0, deadline - time.perf_counter()))
        expired = [(it, r) for it, r in reqs if r.error and "deadline passed" in r.error]
        errors = [r.error for it, r in reqs if r.error and (it, r) not in expired]
        if errors:
            raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
        served = [(it, r) for it, r in reqs if not r.error]
        out = summarise([r for _, r in served], t0)
        if any(it.deadline_s is not None for it in items):
            out["deadlines"] = attainment(items, served, refused, expired)
        return out

    def warm_up(self, engine: Engine) -> None:
        """The same warm-up for every policy: a few requests at once (first kernels), then a
        Poisson stream at 0.9 load (`--warmup-n`), where nova's calibration learns this card."""
        self.serve(engine, make_workload(4, 1000.0, seed=999))
        if self.args.warmup_n:
            rate = 0.9 * (self.args.capacity or self.capacity)
            self.serve(engine, make_workload(self.args.warmup_n, rate, seed=998))

    def solo_s(self, it) -> float:
        """A request alone on the whole GPU: measured vision + prefill, decode at batch 1 from the
        tables (the deadline's unit in the mixed-deadline workload)."""
        svc = self.service_ms[it.screen]
        step = self.tables.interp("decode", self.tables.total_sms, 1)
        return (svc["vision_ms"] + svc["prefill_ms"] + (it.output_len - 1) * step) / 1e3


def policy_variant(spec: str) -> tuple[str, dict]:
    """'nova/pace=false/max_decode_slowdown=3' -> ('nova', {'pace': False, 'max_decode_slowdown': 3.0})."""
    name, *pairs = spec.split("/")
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"policy variant {spec!r}: {pair!r} is not key=value")
        low = value.lower()
        params[key] = (
            low == "true"
            if low in ("true", "false")
            else float(value)
            if "." in value
            else int(value)
        )
    return name, params


def attainment(items, served, refused, expired) -> dict:
    """Deadline attainment: met = served by its deadline, over every request of the workload;
    refused at admission and expired in the queue counted apart from missed (served late)."""
    met = [it for it, r in served if r.timings()["total_ms"] <= 1e3 * it.deadline_s]

    def split(xs):
        return {"all": len(xs), "tight": sum(1 for it in xs if it.tight)}

    n, tight = len(items), sum(1 for it in items if it.tight)
    return {
        "requests": n,
        "tight_requests": tight,
        "met": split(met),
        "missed": split([it for it, _ in served if it not in met]),
        "refused": split(refused),
        "expired": split([it for it, _ in expired]),
        "attainment": round(len(met) / n, 4),
        "tight_attainment": round(sum(1 for it in met if it.tight) / tight, 4) if tight else None,
    }


def summarise(reqs, t0: float) -> dict:
    t = [r.timings() for r in reqs]
    end = max(r.marks["end"] for r in reqs)
    tokens = sum(len(r.output_ids) for r in reqs)
    lat = percentiles([x["total_ms"] for x in t])
    ttft = percentiles([x["ttft_ms"] for x in t])
    tpot = percentiles([x["tpot_ms"] for x in t if x["tpot_ms"] is not None])
    return {
        "requests": len(reqs),
        "latency_ms": lat,
        "ttft_ms": ttft,
        "tpot_ms": tpot,
        "decode_step_ms": percentiles([x for t_ in t for x in t_["decode_ms"]]),
        "queue_ms": percentiles([x["queue_ms"] for x in t]),
        "vision_ms": percentiles([x["vision_ms"] for x in t if x["vision_ms"] is not None]),
        "prefill_ms": percentiles([x["prefill_ms"] for x in t if x["prefill_ms"] is not None]),
        "throughput_rps": round(len(reqs) / (end - t0), 4),
        "tokens_per_s": round(tokens / (end - t0), 2),
        "duration_s": round(end - t0, 3),
    }


def workloads(args, capacity: float, seed: int, solo_s=None):
    out = []
    for load in args.loads:
        n = max(
            args.min_n, int(args.n * min(1.0, load / 0.5))
        )  # fewer at low load: keep runs short
        items = make_workload(n, load * capacity, "poisson", seed=seed)
        out.append(
            {"name": f"poisson-{load:g}", "process": "poisson", "load": load, "items": items}
        )
    if args.bursty_load:
        items = make_workload(args.n, args.bursty_load * capacity, "bursty", cv=args.cv, seed=seed)
        out.append(
            {
                "name": f"bursty-{args.bursty_load:g}",
                "process": "bursty",
                "load": args.bursty_load,
                "items": items,
            }
        )
    if args.deadline_load:
        items = make_workload(args.n, args.deadline_load * capacity, "poisson", seed=seed)
        items = with_deadlines(items, solo_s, args.tight, args.loose, seed=seed)
        out.append(
            {
                "name": f"deadlines-{args.deadline_load:g}",
                "process": "poisson",
                "load": args.deadline_load,
                "items": items,
                "deadline_factors": {"tight": args.tight, "loose": args.loose},
            }
        )
    for w in out:
        w["seed"] = seed
        w["cv"] = round(gap_cv(w["items"]), 3)
        w["rate_rps"] = round(w["load"] * capacity, 4)
    return out


def save(result: dict, path: str) -> None:
    """Written after every run, so a run cut short by a time limit still leaves its rows."""
    result["nova_vs_best_baseline"] = compare(result)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)


def run(args, path: str) -> dict:
    b = Bench(args)
    result = {
        "command": "python " + " ".join(shlex.quote(x) for x in sys.argv),
        "card": card(args.device),
        "max_pixels": b.max_pixels,
        "preset": args.preset,
        "tables": args.tables or "default (derived from the H100 GPU probe, docs/design.md §8.2)",
        "capacity_rps": round(b.capacity, 4),
        "load_1_rps": args.capacity or round(b.capacity, 4),
        "service_ms": b.service_ms,
        "max_batch": args.max_batch,
        "workloads": [],
        "runs": [],
    }
    wls = [
        w
        for seed in args.seeds
        for w in workloads(args, args.capacity or b.capacity, seed, b.solo_s)
    ]
    result["seeds"] = args.seeds
    result["workloads"] = [
        {k: v for k, v in w.items() if k != "items"} | {"n": len(w["items"])} for w in wls
    ]
    print(
        json.dumps({"capacity_rps": result["capacity_rps"], "service_ms": b.service_ms}), flush=True
    )
    for name in args.policies:
        engine = b.engine(name)
        try:
            b.warm_up(engine)
            for w in wls:
                s = b.serve(engine, w["items"])
                row = {
                    "policy": name,
                    "workload": w["name"],
                    "seed": w["seed"],
                    "process": w["process"],
                    "load": w["load"],
                    "offload": False,
                    **s,
                }
                m = (
                    engine.metrics()
                )  # what the policy learnt and did (nova: corrections, paced steps)
                row["engine"] = {
                    "counts": m["counts"],
                    "decode_batch": m["decode_batch"],
                    "decide_ms": m["decide_ms"],
                    **({"calibration": m["calibration"]} if "calibration" in m else {}),
                }
                result["runs"].append(row)
                print_row(row)
                save(result, path)
            if name == "nova":
                result["nova_partitions"] = {
                    "switch_cost_ms": engine.partitioner.switch_cost_ms,
                    "create_ms": getattr(engine.partitioner, "create_ms", {}),
                }
        finally:
            engine.close()
            del engine
            gc.collect()
            if b.cuda:
                torch.cuda.empty_cache()
    if args.offload:
        result["offload"] = offload_runs(b, wls[min(1, len(wls) - 1)])
        save(result, path)
    return result


def offload_runs(b: Bench, w: dict) -> dict:
    """nova with resident vs streamed vision weights on the same workload; GPU bytes of each."""
    out = {"workload": w["name"]}
    resident = sum(p.numel() * p.element_size() for p in b.model.vision.parameters())
    for offload in (False, True):
        vision: Any = None
        if offload:
            vision = stream_vision_weights(b.model)
        engine = b.engine("nova", vision=vision)
        try:
            b.warm_up(engine)
            s = b.serve(engine, w["items"])
        finally:
            engine.close()
        key = "streamed" if offload else "resident"
        out[key] = {"vision_weight_bytes": vision.resident_bytes() if offload else resident, **s}
        print_row({"policy": f"nova/{key}", "workload": w["name"], **s})
    r, st = out["resident"], out["streamed"]
    out["memory_reduction"] = round(1 - st["vision_weight_bytes"] / r["vision_weight_bytes"], 4)
    out["mean_latency_increase"] = round(st["latency_ms"]["mean"] / r["latency_ms"]["mean"] - 1, 4)
    out["max_latency_increase"] = round(st["latency_ms"]["max"] / r["latency_ms"]["max"] - 1, 4)
    return out


def print_row(row: dict) -> None:
    lat, ttft, tpot = row["latency_ms"], row["ttft_ms"], row["tpot_ms"]
    if "deadlines" in row:
        d = row["deadlines"]
        print(
            f"{row['policy']:>14} {row['workload']:>14} seed {row.get('seed')}  attainment "
            f"{d['attainment']:.3f} (tight {d['tight_attainment']})  refused {d['refused']['all']}"
            f"  expired {d['expired']['all']}  missed {d['missed']['all']}",
            flush=True,
        )
    print(
        f"{row['policy']:>14} {row['workload']:>14}  max {lat['max']:9.1f}  p99 {lat['p99']:9.1f}  "
        f"mean {lat['mean']:9.1f}  ttft {ttft['mean']:8.1f}  tpot {tpot.get('mean', 0):6.2f}  "
        f"vis {row.get('vision_ms', {}).get('mean', 0):6.1f}  pre {row.get('prefill_ms', {}).get('mean', 0):6.1f}  "
        f"thr {row['throughput_rps']:7.3f} rps",
        flush=True,
    )


# Two-sided 95 % Student t quantiles by degrees of freedom (n - 1 seeds).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def ci95(xs: list[float]) -> dict:
    """Mean and the half-width of its 95 % confidence interval (t distribution; 0 for one value)."""
    n, m = len(xs), statistics.mean(xs)
    half = T95.get(n - 1, 1.96) * statistics.stdev(xs) / n**0.5 if n > 1 else 0.0
    return {"mean": round(m, 4), "ci95": round(half, 4), "n": n}


def metrics_of(row: dict) -> dict:
    out = {
        "max_ms": row["latency_ms"]["max"],
        "mean_ms": row["latency_ms"]["mean"],
        "throughput_rps": row["throughput_rps"],
        "tpot_p99_ms": row.get("decode_step_ms", row["tpot_ms"]).get("p99"),
    }
    if "deadlines" in row:
        out["attainment"] = row["deadlines"]["attainment"]
    return out


def verdict(ratio: dict) -> str:
    """'better' / 'worse' only when the 95 % CI of nova/baseline excludes 1; else 'tie'."""
    lo, hi = ratio["mean"] - ratio["ci95"], ratio["mean"] + ratio["ci95"]
    return "better" if hi < 1 else "worse" if lo > 1 else "tie"


def compare(result: dict) -> dict:
    """Nova against each baseline per workload, over the seeds: per-seed ratios nova/baseline
    (paired: same arrivals) of max and mean latency, throughput and decode TPOT p99, as mean ±
    95 % CI with a verdict; attainment as a difference in points. The best baseline is the one
    with the lowest mean max latency."""
    out = {}
    for w in sorted({r["workload"] for r in result["runs"]}):
        rows = [r for r in result["runs"] if r["workload"] == w and not r.get("offload")]
        by: dict[str, dict[int, dict]] = {}
        for r in rows:
            by.setdefault(r["policy"], {})[r.get("seed", 0)] = metrics_of(r)
        if "nova" not in by or len(by) < 2:
            continue
        summary = {
            p: {
                k: ci95([m[k] for m in seeds.values() if m.get(k) is not None])
                for k in next(iter(seeds.values()))
                if any(m.get(k) is not None for m in seeds.values())
            }
            for p, seeds in by.items()
        }
        against = {}
        for base, seeds in by.items():
            if base == "nova":
                continue
            common = sorted(set(seeds) & set(by["nova"]))
            cmp: dict[str, Any] = {}
            for k in ("max_ms", "mean_ms", "throughput_rps", "tpot_p99_ms"):
                xs = [by["nova"][s][k] / seeds[s][k] for s in common if seeds[s].get(k)]
                if xs:
                    cmp[f"{k}_ratio"] = ci95(xs)
                    if k != "throughput_rps":
                        cmp[f"{k}_verdict"] = verdict(cmp[f"{k}_ratio"])
            if all("attainment" in by["nova"][s] and "attainment" in seeds[s] for s in common):
                cmp["attainment_points"] = ci95(
                    [100 * (by["nova"][s]["attainment"] - seeds[s]["attainment"]) for s in common]
                )
            against[base] = cmp
        best = min(against, key=lambda p: summary[p]["max_ms"]["mean"])
        out[w] = {"best_baseline": best, "policies": summary, "nova_vs": against}
    return out


def print_comparison(cmp: dict) -> None:
    """nova / baseline per workload: mean ratio ± 95 % CI and the verdict the CI allows."""
    for w, c in cmp.items():
        for base, r in c["nova_vs"].items():
            cells = []
            for k in ("max_ms", "mean_ms", "tpot_p99_ms", "throughput_rps"):
                if f"{k}_ratio" in r:
                    x = r[f"{k}_ratio"]
                    v = r.get(f"{k}_verdict", "")
                    cells.append(
                        f"{k[:-3] if k.endswith('_ms') else 'thr'} {x['mean']:.3f}±{x['ci95']:.3f} {v}"
                    )
            if "attainment_points" in r:
                a = r["attainment_points"]
                cells.append(f"attainment {a['mean']:+.1f}±{a['ci95']:.1f} pts")
            best = " (best)" if base == c["best_baseline"] else ""
            print(f"{w:>14} nova/{base}{best}: " + "  ".join(cells), flush=True)


def plot(result: dict, path: str) -> None:
    """Latency (max and p99) vs throughput, one line per policy over the Poisson loads; bursty as stars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, stat in zip(axes, ("max", "p99"), strict=False):
        for i, policy in enumerate(sorted({r["policy"] for r in result["runs"]})):
            rows = sorted(
                (r for r in result["runs"] if r["policy"] == policy and r["process"] == "poisson"),
                key=lambda r: r["load"],
            )
            color = f"C{i}"
            ax.plot(
                [r["throughput_rps"] for r in rows],
                [r["latency_ms"][stat] for r in rows],
                "o-",
                color=color,
                label=policy,
            )
            for r in result["runs"]:
                if r["policy"] == policy and r["process"] == "bursty":
                    ax.plot(
                        r["throughput_rps"], r["latency_ms"][stat], "*", color=color, markersize=14
                    )
        ax.set_xlabel("throughput (requests/s)")
        ax.set_ylabel(f"{stat} end-to-end latency (ms)")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.set_title(
            f"{result['preset']} on {result['card'].get('name', result['card']['device'])}: {stat}"
        )
    axes[0].legend(fontsize=8)
    fig.text(0.5, 0.005, "lines: Poisson loads; stars: bursty (cv>=3)", ha="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def merge(paths: list[str], out: str) -> str:
    """One result from several runs of the same preset on the same card; keeps every command."""
    parts = [json.load(open(p)) for p in paths]
    first = dict(parts[0])
    for other in parts[1:]:
        for key in ("preset", "max_pixels", "max_batch"):
            if other.get(key) != first.get(key):
                raise ValueError(f"cannot merge: '{key}' differs between {paths[0]} and the others")
        if (
            other["workloads"] != first["workloads"]
        ):  # same seeds; rates follow each call's capacity
            first.setdefault("workloads_by_call", [first["workloads"]]).append(other["workloads"])
        first["runs"] = first["runs"] + other["runs"]
        first.update({k: v for k, v in other.items() if k in ("offload", "nova_partitions")})
    first["commands"] = [p["command"] for p in parts]
    first["cards"] = [p["card"] for p in parts]
    first.pop("command", None)
    path = out if out.endswith(".json") else os.path.join(out, f"bench_{first['preset']}.json")
    save(first, path)
    plot(first, path.replace(".json", ".png"))
    return path


def parse_args(argv=None):
    floats = lambda s: [float(x) for x in s.split(",") if x]  # noqa: E731
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="qwen2-vl-7b")
    p.add_argument(
        "--tables", default=None, help="stage tables JSON from runtimes.vlm.profile_stages"
    )
    p.add_argument("--device", default="cuda")
    p.add_argument("--policies", default=",".join(POLICY_NAMES))
    p.add_argument(
        "--loads",
        type=floats,
        default=[0.1, 0.5, 0.95],
        help="Poisson loads, fractions of capacity",
    )
    p.add_argument("--bursty-load", type=float, default=0.7)
    p.add_argument("--cv", type=float, default=3.0)
    p.add_argument(
        "--capacity",
        type=float,
        default=None,
        help="requests/s that load 1.0 means (default: measured); pin it to repeat a sequence",
    )
    p.add_argument(
        "--n", type=int, default=60, help="requests per workload (scaled down below load 0.5)"
    )
    p.add_argument("--min-n", type=int, default=12)
    p.add_argument("--max-batch", type=int, default=16)
    p.add_argument("--max-len", type=int, default=2048)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--seeds",
        default=None,
        help="arrival seeds, comma-separated: every workload once per seed, same engine (CIs)",
    )
    p.add_argument(
        "--warmup-n",
        type=int,
        default=16,
        help="warm-up requests at 0.9 load before measuring (nova calibrates meanwhile)",
    )
    p.add_argument(
        "--deadline-load",
        type=float,
        default=0.0,
        help="add the mixed-deadline workload: Poisson at this load, half tight, half loose",
    )
    p.add_argument("--tight", type=float, default=2.0, help="tight deadline, x solo service")
    p.add_argument("--loose", type=float, default=10.0, help="loose deadline, x solo service")
    p.add_argument("--no-graphs", action="store_true")
    p.add_argument("--no-compile", action="store_true", help="decode without torch.compile")
    p.add_argument(
        "--kernels",
        action="store_true",
        help="decode projections and attention on the Triton kernels (model/gemv.py, decode_attn.py)",
    )
    p.add_argument(
        "--fp8", action="store_true", help="decode projections on e4m3 weights (model/fp8.py)"
    )
    p.add_argument(
        "--compute-priority",
        action="store_true",
        help="vision and prefill plain streams at high CUDA stream priority, decode at normal",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=1280 * 28 * 28,
        help="screenshot pixel budget after resizing (Qwen2-VL's usual GUI-agent setting)",
    )
    p.add_argument(
        "--offload", action="store_true", help="also compare streamed vs resident vision weights"
    )
    p.add_argument("--run-timeout", type=float, default=240.0)
    p.add_argument("--out", default="bench/results/nova")
    p.add_argument("--plot", default=None, help="only re-plot this result JSON")
    p.add_argument(
        "--merge",
        nargs="+",
        default=None,
        help="join result JSONs of one preset and card (e.g. policies run in separate calls) into --out",
    )
    args = p.parse_args(argv)
    args.policies = [x for x in args.policies.split(",") if x]
    args.seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.merge:
        path = merge(args.merge, args.out)
        print(json.dumps(json.load(open(path))["nova_vs_best_baseline"], indent=1))
        return
    if args.plot:
        with open(args.plot) as f:
            result = json.load(f)
        plot(result, args.plot.replace(".json", ".png"))
        return
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"bench_{args.preset}.json")
    result = run(args, path)
    save(result, path)
    print_comparison(result["nova_vs_best_baseline"])
    try:
        plot(result, path.replace(".json", ".png"))
    except ImportError:
        print("matplotlib missing: re-plot later with --plot", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
