"""What the console shows, computed from plain records: activation rates and cold starts, one
activation's sizes and usage, containers by state, run timelines, SLO attainment, savings
against early binding, hint diffs and diagnostics by line, VLM runtime summaries.

Pure functions over the JSON shapes of the store and the invokers (activation records, run
records, ``/status`` bodies, the VLM runtime's ``/metrics``); ``controller.console.views`` calls
them and renders the result. Nothing here does I/O, so it is tested without a platform.
"""

from __future__ import annotations

import difflib
import json
import statistics
from collections import Counter

START_GROUPS = {"cold": "cold", "recreated": "cold", "prewarmed": "prewarmed", "warm": "warm"}
BASELINE_POLICIES = ("early-max", "early-static")
STATUS_NAMES = {0: "success", 1: "application error", 2: "developer error", 3: "system error"}


def annotation(record: dict, key: str, default=None):
    """An activation record's annotation value (OpenWhisk keeps them as a key/value list)."""
    for kv in record.get("annotations") or []:
        if kv.get("key") == key:
            return kv.get("value")
    return default


def start_kind(record: dict) -> str | None:
    """``cold`` (a new container), ``prewarmed`` (a stem cell initialised with the code) or
    ``warm`` (no init): the invoker's ``startKind``, else whether the record has an initTime."""
    kind = annotation(record, "startKind")
    if kind in START_GROUPS:
        return START_GROUPS[kind]
    if record.get("end"):
        return "cold" if annotation(record, "initTime") is not None else "warm"
    return None


# -- activations -----------------------------------------------------------------------------


def activation_stats(records: list[dict], now_ms: int, window_s: float) -> dict:
    """Rates over the last ``window_s`` seconds of activation records (newest first or not)."""
    since = now_ms - window_s * 1000
    recent = [r for r in records if r.get("start", 0) >= since]
    done = [r for r in recent if r.get("end")]
    errors = sum(1 for r in done if r.get("statusCode", 0) != 0)
    kinds = Counter(start_kind(r) for r in done)
    inits = [annotation(r, "initTime") for r in done if annotation(r, "initTime") is not None]
    waits = [annotation(r, "waitTime") for r in done if annotation(r, "waitTime") is not None]
    by_status = Counter(STATUS_NAMES.get(r.get("statusCode", 0), "unknown") for r in done)
    return {
        "windowSeconds": window_s,
        "count": len(recent),
        "completed": len(done),
        "running": len(recent) - len(done),
        "perSecond": round(len(recent) / window_s, 3),
        "errors": errors,
        "errorRate": round(errors / len(done), 4) if done else 0.0,
        "byStatus": dict(by_status),
        "cold": kinds.get("cold", 0),
        "prewarmed": kinds.get("prewarmed", 0),
        "warm": kinds.get("warm", 0),
        "meanInitMs": round(statistics.fmean(inits), 1) if inits else None,
        "meanWaitMs": round(statistics.fmean(waits), 1) if waits else None,
    }


def rate_series(
    records: list[dict], now_ms: int, window_s: float, bucket_s: float
) -> dict[str, list]:
    """Activations and errors per second in ``bucket_s`` buckets over the last ``window_s``
    seconds, as (bucket end in epoch ms, rate) points for a chart."""
    n = max(1, int(window_s // bucket_s))
    start = now_ms - n * bucket_s * 1000
    counts, errors = [0] * n, [0] * n
    for r in records:
        i = int((r.get("start", 0) - start) // (bucket_s * 1000))
        if 0 <= i < n:
            counts[i] += 1
            errors[i] += 1 if r.get("end") and r.get("statusCode", 0) != 0 else 0
    ends = [start + (i + 1) * bucket_s * 1000 for i in range(n)]
    return {
        "activations/s": [(t, c / bucket_s) for t, c in zip(ends, counts, strict=True)],
        "errors/s": [(t, e / bucket_s) for t, e in zip(ends, errors, strict=True)],
    }


def activation_row(record: dict) -> dict:
    """One activation flattened for tables and the detail page."""
    size = annotation(record, "size") or None
    usage = annotation(record, "usage") or None
    duration = record.get("duration") or 0
    cpu_used = None
    if usage and usage.get("cpuTime") is not None and duration:
        cpu_used = round(usage["cpuTime"] / duration, 3)  # cores busy on average
    response = record.get("response") or {}
    return {
        "id": record.get("activationId"),
        "namespace": record.get("namespace"),
        "name": record.get("name"),
        "path": annotation(record, "path") or record.get("name"),
        "kind": annotation(record, "kind"),
        "start": record.get("start"),
        "end": record.get("end"),
        "duration": duration,
        "statusCode": record.get("statusCode", 0),
        "status": response.get("status") or ("running" if not record.get("end") else "unknown"),
        "success": response.get("success", False),
        "result": response.get("result"),
        "waitTime": annotation(record, "waitTime"),
        "initTime": annotation(record, "initTime"),
        "startKind": annotation(record, "startKind") or start_kind(record),
        "resizeTime": annotation(record, "resizeTime"),
        "invoker": annotation(record, "invoker"),
        "size": size,
        "usage": usage,
        "cpuUsed": cpu_used,
        "maxMemoryMb": round(usage["maxMemory"] / 1048576, 1)
        if usage and usage.get("maxMemory")
        else None,
        "logs": record.get("logs") or [],
        "cause": record.get("cause"),
    }


def filter_activations(rows: list[dict], text: str = "", status: str = "") -> list[dict]:
    """Rows whose id or name contains ``text`` and whose outcome is ``status``
    (``success``, ``error``, ``running`` or empty for any)."""
    text = text.strip().lower()
    out = []
    for r in rows:
        if text and text not in (r["id"] or "").lower() and text not in (r["path"] or "").lower():
            continue
        if status == "success" and not (r["end"] and r["statusCode"] == 0):
            continue
        if status == "error" and not (r["end"] and r["statusCode"] != 0):
            continue
        if status == "running" and r["end"]:
            continue
        out.append(r)
    return out


def filter_actions(actions: list[dict], text: str = "", kind: str = "") -> list[dict]:
    text = text.strip().lower()
    return [
        a
        for a in actions
        if (not text or text in action_path(a).lower())
        and (not kind or (a.get("exec") or {}).get("kind") == kind)
    ]


def action_path(action: dict) -> str:
    """``name`` or ``package/name`` of an action document (its namespace may carry the package)."""
    ns = action.get("namespace", "")
    package = ns.split("/", 1)[1] if "/" in ns else ""
    return f"{package}/{action['name']}" if package else action["name"]


# -- invokers and containers -----------------------------------------------------------------


def containers_by_state(invokers: list[dict]) -> list[dict]:
    """Per container state: how many, and the CPU and memory they hold together."""
    acc: dict[str, dict] = {}
    for inv in invokers:
        for c in inv.get("containers") or []:
            a = acc.setdefault(
                c.get("state") or "unknown",
                {"state": c.get("state") or "unknown", "count": 0, "cpu": 0.0, "memory": 0},
            )
            a["count"] += 1
            a["cpu"] = round(a["cpu"] + (c.get("cpu") or 0), 3)
            a["memory"] += c.get("memory") or 0
    return sorted(acc.values(), key=lambda a: a["state"])


def visible_invokers(invokers: list[dict], namespace: str, admin: bool) -> list[dict]:
    """Admins see every container; a namespace sees only the containers of its own actions."""
    if admin:
        return invokers
    prefix = f"{namespace}/"
    return [
        {
            **inv,
            "containers": [
                c for c in inv.get("containers") or [] if (c.get("action") or "").startswith(prefix)
            ],
        }
        for inv in invokers
    ]


# -- workflow runs ---------------------------------------------------------------------------


def run_timeline(run: dict) -> dict:
    """Each node's start/end relative to the run's start, with the size chosen and the budget
    left when it was chosen; what the per-run timeline draws."""
    t0 = run.get("start") or 0
    rows = []
    for n in run.get("nodes") or []:
        if n.get("start") is None:
            rows.append(
                {
                    "id": n["id"],
                    "status": n.get("status"),
                    "offset": None,
                    "length": None,
                    "size": None,
                    "remainingMs": None,
                    "activationIds": [],
                }
            )
            continue
        end = n.get("end") if n.get("end") is not None else n["start"]
        rows.append(
            {
                "id": n["id"],
                "status": n.get("status"),
                "offset": n["start"] - t0,
                "length": max(0, end - n["start"]),
                "size": n.get("size"),
                "remainingMs": n.get("remainingMs"),
                "rule": n.get("rule"),
                "atRisk": n.get("atRisk"),
                "activationIds": [a for a in n.get("activationIds") or [] if a],
            }
        )
    slo = (run.get("slo") or {}).get("latencyMs")
    return {
        "runId": run.get("runId"),
        "duration": run.get("duration") or 0,
        "sloMs": slo,
        "rows": rows,
    }


def slo_summary(report: dict) -> list[dict]:
    """One row per policy of the workflow report: runs, SLO attainment against the target."""
    target = (report.get("slo") or {}).get("percentile") or 99
    out = []
    for policy, p in (report.get("policies") or {}).items():
        out.append(
            {
                "policy": policy,
                "runs": p["runs"],
                "succeeded": p["succeeded"],
                "attainment": p["sloAttainment"],
                "meetsTarget": p["sloAttainment"] * 100 >= target,
                "p50": p["latency"]["p50"],
                "p99": p["latency"]["p99"],
                "coreSecondsPerRun": p["coreSecondsPerRun"],
                "atRiskRuns": p.get("atRiskRuns", 0),
            }
        )
    return out


def savings(runs: list[dict]) -> dict:
    """Core-seconds per finished run by policy over time, and each policy's mean saving
    against the early-binding baselines that ran (``early-max``, ``early-static``)."""
    series: dict[str, list[tuple[float, float]]] = {}
    for r in sorted(runs, key=lambda r: r["start"]):
        if r.get("status") == "running":
            continue
        series.setdefault(r["policy"], []).append((r["start"], r.get("coreSeconds") or 0.0))
    means = {p: statistics.fmean(y for _, y in pts) for p, pts in series.items()}
    rows = []
    for policy, mean in sorted(means.items()):
        row = {"policy": policy, "runs": len(series[policy]), "meanCoreSeconds": round(mean, 4)}
        for base in BASELINE_POLICIES:
            if base in means and base != policy and means[base] > 0:
                row[f"vs:{base}"] = (
                    round(1 - mean / means[base], 4) + 0.0
                )  # + 0.0: never "-0.0 % less"
        rows.append(row)
    return {
        "series": series,
        "policies": rows,
        "baselines": [b for b in BASELINE_POLICIES if b in means],
    }


# -- hints -----------------------------------------------------------------------------------


def lines_with_diagnostics(text: str, diagnostics: list[dict]) -> list[dict]:
    """The hint text line by line, each with the diagnostics that point at it (a diagnostic
    past the last line is attached to the last line)."""
    lines = text.split("\n") or [""]
    out = [{"number": i + 1, "text": line, "diagnostics": []} for i, line in enumerate(lines)]
    for d in diagnostics:
        idx = min(max(d.get("line", 1), 1), len(out)) - 1
        out[idx]["diagnostics"].append(d)
    return out


def hint_diff(active: str, synthesized: str) -> list[dict]:
    """Unified diff of the active hints against synthesized ones, as (kind, text) lines:
    kind is ``add``, ``del``, ``hunk`` or ``same``."""
    out = []
    diff = difflib.unified_diff(
        active.splitlines(), synthesized.splitlines(), "active", "synthesized", lineterm="", n=3
    )
    for line in diff:
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        out.append({"kind": kind, "text": line})
    return out


def parse_jsonl(text: str) -> tuple[list[dict], list[str]]:
    """Profiling inputs from a textarea: one JSON object per non-empty line, and an error per
    line that is not one (``line N: ...``)."""
    inputs, errors = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            errors.append(f"line {n}: not valid JSON ({exc})")
            continue
        if not isinstance(value, dict):
            errors.append(
                f'line {n}: must be a JSON object like {{"megapixels": 2}}, got {type(value).__name__}'
            )
            continue
        inputs.append(value)
    if not inputs and not errors:
        errors.append("no inputs: write one JSON object per line")
    return inputs, errors


# -- VLM runtimes ----------------------------------------------------------------------------

VLM_KIND = "vlm"
VLM_STAGES = ("vision", "prefill", "decode")


def is_vlm_container(container: dict, vlm_actions: set[str]) -> bool:
    """A container running a VLM runtime: the invoker reports its kind (``vlm``); for invokers
    that do not, its action is one of ``vlm_actions`` (``ns/path``). Stem cells (no action yet)
    serve nobody and are left out."""
    if not container.get("action"):
        return False
    kind = container.get("kind")
    return kind == VLM_KIND if kind else container["action"] in vlm_actions


def partition_shares(metrics: dict) -> dict[str, float]:
    """Each stage's share of the GPU's SMs (0..1) from a VLM runtime's ``/metrics``: every stage
    of a partitioning policy (0 for a stage without work, so a chart drops to zero rather than
    joining across idle time); nothing for a policy that does not partition (``sm_split`` null)."""
    part = metrics.get("partition") or {}
    split, total = part.get("sm_split"), part.get("total_sms")
    if split is None:
        return {}
    total = total or sum(split.values()) or 1
    stages = list(VLM_STAGES) + [s for s in split if s not in VLM_STAGES]
    return {stage: round(split.get(stage, 0) / total, 4) for stage in stages}


def current_split(metrics: dict) -> list[dict]:
    """The runtime's split right now, one row per stage: SMs and share (what the page's
    "current split" table shows)."""
    sms = (metrics.get("partition") or {}).get("sm_split") or {}
    return [
        {"stage": stage, "sms": sms.get(stage, 0), "share": share}
        for stage, share in partition_shares(metrics).items()
    ]


LATENCY_LABELS = {
    "queue_ms": "queue wait",
    "vision_ms": "vision encode",
    "prefill_ms": "LLM prefill",
    "ttft_ms": "time to first token",
    "tpot_ms": "time per output token",
    "total_ms": "total",
}


def latency_rows(runtimes: list[dict]) -> list[dict]:
    """Latency percentiles per scheduling policy and stage metric (queue, vision, prefill,
    TTFT, TPOT, total, in pipeline order), one row each, over the runtimes that answered
    ``/metrics``; metrics without samples are left out."""
    order = list(LATENCY_LABELS)
    rows = []
    for rt in runtimes:
        m = rt.get("metrics") or {}
        for metric, pct in (m.get("latency_ms") or {}).items():
            if pct.get("count"):
                rows.append(
                    {
                        "policy": m.get("policy") or "unknown",
                        "container": rt.get("container"),
                        "metric": metric,
                        "label": LATENCY_LABELS.get(metric, metric),
                        "count": pct["count"],
                        "mean": pct.get("mean"),
                        "p50": pct.get("p50"),
                        "p90": pct.get("p90"),
                        "p99": pct.get("p99"),
                    }
                )
    rank = {m: i for i, m in enumerate(order)}
    return sorted(
        rows,
        key=lambda r: (
            r["policy"],
            r["container"] or "",
            rank.get(r["metric"], len(order)),
            r["metric"],
        ),
    )


def landing_namespace(own: str, last_activity: dict[str, int]) -> str:
    """The namespace an admin sees first: the one with the latest activation (epoch ms per
    namespace that has any), so an admin key of the empty ``whisk.system`` does not open on
    empty pages; its own when no namespace has run anything yet."""
    if not last_activity:
        return own
    return max(sorted(last_activity), key=lambda ns: last_activity[ns])


def profile_eta(job: dict | None, now_ms: int) -> str | None:
    """A running profiling job's time left at its pace so far (``about 1m20s left``), or how
    long a finished one took; None before its first run is done."""
    if not job or not job.get("started") or not job.get("total"):
        return None
    done, total = int(job.get("done") or 0), int(job["total"])
    elapsed_s = max(0.0, ((job.get("finished") or now_ms) - job["started"]) / 1000)
    if job.get("state") != "running":
        return f"took {_duration(elapsed_s)}"
    if done <= 0:
        return "estimating time left"
    return f"about {_duration(elapsed_s / done * max(0, total - done))} left"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
