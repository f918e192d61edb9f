"""Fuzz Tango's REST API with schemathesis against a running standalone, from Tango's own API
description (``/api/v1/api-docs``, ``controller.openapi``).

    python3 bench/fuzz_api.py                      # >= 30,000 requests (30 minutes on 2 busy cores)
    python3 bench/fuzz_api.py --max-examples 20    # a quick look

Starts ``tango standalone`` on a free port (its own store, real invoker and containers), runs
``schemathesis run`` with positive and negative data (examples and fuzzing phases) and the
checks not_a_server_error, status_code_conformance, content_type_conformance and
response_schema_conformance, reads every request and answer from schemathesis's NDJSON report,
prints a table (requests, answers by status class, check failures) and saves JSON (command,
host, load, raw counts) under bench/results/fuzz_api.json. The number to watch is zero: no
answer >= 500, no check failure. There is no timing here, so no baseline to compare against.

``fuzz`` and ``summarise`` are also what the bounded pass in the test suite
(tests/security/test_schemathesis.py) runs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common.platform_process import GUEST_KEY  # noqa: E402

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@dataclass
class FuzzResult:
    """What one schemathesis run sent and got."""

    requests: int = 0
    by_status: dict[str, int] = field(default_factory=dict)  # "200": n, ...
    failures: dict[str, int] = field(default_factory=dict)  # check name → failed cases
    errors: int = 0  # schemathesis could not run a case (its own or a transport error)
    operations: int = 0
    seconds: float = 0.0
    failed_examples: list[dict] = field(default_factory=list)  # up to 20, for a reader

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.by_status.items() if code.isdigit() and int(code) >= 500)

    @property
    def violations(self) -> int:
        return sum(n for name, n in self.failures.items() if name != "not_a_server_error")


def summarise(ndjson: Path) -> FuzzResult:
    """Count requests, answers and check failures from schemathesis's NDJSON event log."""
    result = FuzzResult()
    statuses: collections.Counter = collections.Counter()
    failures: collections.Counter = collections.Counter()
    operations = set()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        kind, body = next(iter(event.items()))
        if kind == "NonFatalError":
            result.errors += 1
        if kind != "ScenarioFinished":
            continue
        recorder = body.get("recorder", {})
        interactions = recorder.get("interactions", {})
        if interactions:
            operations.add(recorder.get("label"))
        for case_id, interaction in interactions.items():
            response = interaction.get("response") or {}
            statuses[str(response.get("status_code"))] += 1
            result.requests += 1
            failed = [
                c["name"]
                for c in recorder.get("checks", {}).get(case_id, [])
                if c["status"] == "failure"
            ]
            for name in failed:
                failures[name] += 1
            if failed and len(result.failed_examples) < 20:
                request = interaction.get("request", {})
                result.failed_examples.append(
                    {
                        "operation": recorder.get("label"),
                        "checks": failed,
                        "method": request.get("method"),
                        "uri": request.get("uri"),
                        "status": response.get("status_code"),
                    }
                )
    result.by_status = dict(sorted(statuses.items()))
    result.failures = dict(failures)
    result.operations = len(operations)
    return result


def fuzz(
    apihost: str,
    auth: str,
    max_examples: int,
    seed: int,
    workers: int = 1,
    phases: str = "examples,fuzzing",
    report: Path | None = None,
    timeout: float = 3600,
) -> FuzzResult:
    """Run schemathesis against ``apihost`` (its document at /api/v1/api-docs) with the key
    ``auth``; ``max_examples`` cases per operation and phase."""
    report = report or Path(tempfile.mkdtemp(prefix="fuzz-api-")) / "events.ndjson"
    cli = shutil.which("schemathesis") or shutil.which("st")
    if cli is None:
        raise RuntimeError("schemathesis is not installed (pip install schemathesis)")
    cmd = [
        cli,
        "run",
        f"{apihost}/api/v1/api-docs",
        "--auth",
        auth,
        "--checks",
        ",".join(CHECKS),
        "--phases",
        phases,
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        str(workers),
        "--request-timeout",
        "90",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    start = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    result = summarise(report)
    result.seconds = time.monotonic() - start
    if result.requests == 0:
        raise RuntimeError(
            f"schemathesis sent nothing:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
        )
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-examples", type=int, default=750, help="per operation and phase")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "fuzz_api.json"))
    a = p.parse_args()

    from common import platform_process

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="fuzz-api-"))
    standalone = platform_process.start(work)
    try:
        result = fuzz(
            standalone.apihost,
            GUEST_KEY,
            a.max_examples,
            a.seed,
            a.workers,
            report=work / "events.ndjson",
        )
    finally:
        standalone.stop()
    load_after = os.getloadavg()

    rows = [
        ("requests", result.requests),
        ("operations", result.operations),
        ("seconds", round(result.seconds, 1)),
        ("requests/s", round(result.requests / result.seconds, 1)),
        *((f"answers {code}", n) for code, n in result.by_status.items()),
        ("answers >= 500", result.server_errors),
        *((f"failed {name}", result.failures.get(name, 0)) for name in CHECKS),
        ("schemathesis errors", result.errors),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for example in result.failed_examples:
        print("failed:", example)
    out = {
        "command": "python3 " + " ".join([str(Path(sys.argv[0])), *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {
            "machine": platform.machine(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "schemathesis": {"checks": list(CHECKS), "phases": "examples,fuzzing", "mode": "all"},
        "max_examples": a.max_examples,
        "seed": a.seed,
        "result": asdict(result),
        "server_errors": result.server_errors,
        "violations": result.violations,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"saved {a.out}")


if __name__ == "__main__":
    main()
