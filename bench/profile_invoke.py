"""Where the CPU of a warm blocking invoke goes, per component (issue: hot path).

Starts a standalone platform (controller and invoker as separate processes, SQLite, Docker),
warms a no-op action, then drives warm blocking invokes with ``wrk`` (closed loop, a few
connections) while ``py-spy`` samples the controller, the invoker and the action container's
processes. For each component it reports

- CPU milliseconds per invoke, from the processes' own CPU counters (``/proc/PID/stat``,
  children included) over the measured window, divided by the invokes completed in it;
- that CPU split into the hot path's parts (HTTP parsing, auth, entity lookup, record writes,
  controller→invoker hop, pool decision, container call, JSON encoding, ...) by classifying
  every sampled stack by its leaf-most frame that matches a rule in ``CATEGORIES``;
- a flame graph (SVG) of the samples, under ``bench/results/profile/``.

Prints a table and saves JSON with the command, the host and the raw per-category counts to
``bench/results/profile_invoke.json``. Needs ``py-spy`` (PyPI) and ``wrk`` (Debian), as root.

    python3 -m bench.profile_invoke [--seconds 20] [--connections 4] [--rate 200]
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import platform as host_platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import procs
from common import platform_process
from common.httpclient import HttpPool
from common.platform_process import GUEST_KEY

REPO = Path(__file__).resolve().parents[1]
NOOP = "def main(args):\n    return {}\n"
AUTH = {"Authorization": "Basic " + base64.b64encode(GUEST_KEY.encode()).decode()}

# (category, pattern on one frame "function (path:line)"). A sample belongs to the category of
# its leaf-most frame that matches any rule; the order below only breaks ties within a frame.
CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    (
        "json encode/decode",
        re.compile(r"[/\\]json[/\\]|orjson|jsonify|get_json|\bdumps\b|\bloads\b"),
    ),
    ("record writes (store)", re.compile(r"sqlalchemy|sqlite3|psycopg2|controller[/\\]store[/\\]")),
    ("auth", re.compile(r"controller[/\\]auth\.py|hmac")),
    ("entity lookup", re.compile(r"controller[/\\]entities\.py|controller[/\\]packages\.py")),
    ("pool decision", re.compile(r"invoker[/\\]pool\.py")),
    ("container call", re.compile(r"invoker[/\\]container\.py")),
    ("controller→invoker hop", re.compile(r"common[/\\]httpclient\.py|http[/\\]client\.py")),
    (
        "HTTP server (parse/write)",
        re.compile(
            r"waitress|werkzeug|flask[/\\](app|ctx|wrappers|sansio)|socketserver|http[/\\]server\.py"
        ),
    ),
    ("action proxy (runtime)", re.compile(r"runtimes[/\\]python|proxy\.py")),
    ("logging", re.compile(r"[/\\]logging[/\\]")),
    ("threads/queues/selectors", re.compile(r"threading\.py|queue\.py|selectors\.py|asyncore")),
]


# py-spy (in its default, blocking mode) leaves out threads the OS reports idle; a thread
# blocked in Python-visible waits can still slip through: samples whose leaf frame is a
# blocking wait are idle time, not CPU, and are left out of the shares too (the CPU totals
# come from the kernel's counters, not from samples).
IDLE_LEAF = re.compile(
    r"^(Condition\.wait|Event\.wait|SocketIO\.readinto|_worker|Thread\._wait_for_tstate_lock|"
    r"Queue\.get|select|poll|accept|sleep|_physical_pull|SelectSelector\.select|"
    r"EpollSelector\.select|PollSelector\.select) "
)


def is_idle(stack: tuple[str, ...] | list[str]) -> bool:
    return bool(stack) and bool(IDLE_LEAF.match(stack[-1]))


def categorize(stack: list[str]) -> str:
    for frame in reversed(stack):  # leaf first
        for name, pattern in CATEGORIES:
            if pattern.search(frame):
                return name
    return "other"


# -- processes -----------------------------------------------------------------------------


def components(standalone_pid: int, apihost: str) -> dict[str, list[int]]:
    """controller (the standalone process), invoker processes, action containers' processes
    (this platform's only: other platforms on the host have containers too)."""
    import docker

    invokers = list(procs.invoker_children(standalone_pid).values())
    client = docker.from_env()
    containers = []
    for c in client.containers.list(filters={"label": "tango.invoker"}, ignore_removed=True):
        env = c.attrs["Config"]["Env"] or []
        if f"__OW_API_HOST={apihost}" not in env:
            continue
        pid = int(c.attrs["State"]["Pid"])
        if pid:
            containers.extend(procs.tree(pid))
    return {
        "controller": [standalone_pid],
        "invoker": [q for p in invokers for q in procs.tree(p)],
        "container": containers,
    }


# -- flame graph ---------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    count: int = 0
    children: dict[str, Node] = field(default_factory=dict)


def build_tree(stacks: Counter[tuple[str, ...]]) -> Node:
    root = Node("all")
    for stack, n in stacks.items():
        root.count += n
        node = root
        for frame in stack:
            node = node.children.setdefault(frame, Node(frame))
            node.count += n
    return root


def flame_svg(stacks: Counter[tuple[str, ...]], title: str, width: int = 1400) -> str:
    """A plain flame graph: the root at the bottom, widths proportional to samples."""
    root = build_tree(stacks)
    row_h, rects, depth_max = 16, [], 0

    def walk(node: Node, x: float, depth: int) -> None:
        nonlocal depth_max
        depth_max = max(depth_max, depth)
        w = width * node.count / max(1, root.count)
        if w >= 0.5:
            rects.append((x, depth, w, node))
        cx = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            walk(child, cx, depth + 1)
            cx += width * child.count / max(1, root.count)

    walk(root, 0.0, 0)
    height = (depth_max + 3) * row_h
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="monospace" font-size="11">',
        f'<text x="4" y="12">{html.escape(title)} — {root.count} samples</text>',
    ]
    for x, depth, w, node in rects:
        y = height - (depth + 1) * row_h
        hue = 20 + (hash(node.name) % 40)
        pct = 100.0 * node.count / max(1, root.count)
        label = html.escape(node.name)
        out.append(
            f"<g><title>{label} ({node.count} samples, {pct:.1f} %)</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 1}" '
            f'fill="hsl({hue},80%,60%)"/>'
        )
        if w > 40:
            chars = int(w / 6.6)
            out.append(f'<text x="{x + 2:.1f}" y="{y + 11}">{label[:chars]}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def parse_raw(path: Path) -> Counter[tuple[str, ...]]:
    """py-spy's ``--format raw`` (collapsed stacks: ``frame;frame;... count``)."""
    stacks: Counter[tuple[str, ...]] = Counter()
    if not path.exists():
        return stacks
    for line in path.read_text(errors="replace").splitlines():
        head, _, n = line.rpartition(" ")
        if head and n.isdigit():
            # drop the process/thread prefix frames py-spy adds with --subprocesses
            frames = [f for f in head.split(";") if not f.startswith(("process ", "thread "))]
            stacks[tuple(frames)] += int(n)
    return stacks


# -- load ----------------------------------------------------------------------------------

WRK_LUA = """
request = function()
  return wrk.format("POST", "/api/v1/namespaces/_/actions/noop?blocking=true",
                    {["Authorization"] = "%s", ["Content-Type"] = "application/json"}, "{}")
end
"""


def run_wrk(apihost: str, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA % AUTH["Authorization"])
    try:
        out = subprocess.run(
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", f.name, apihost],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    done = int(next(ln for ln in out.splitlines() if "requests in" in ln).split()[0])
    non2xx = next((int(ln.split()[-1]) for ln in out.splitlines() if "Non-2xx" in ln), 0)
    return {"requests": done, "non_2xx": non2xx, "ok": done - non2xx, "wrk": out}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=20, help="measured window")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument(
        "--out",
        default=None,
        help="JSON result (default bench/results/profile_invoke[_LABEL].json)",
    )
    ap.add_argument("--svg-dir", default=str(REPO / "bench" / "results" / "profile"))
    ap.add_argument("--label", default="", help="suffix for the SVG names (e.g. before/after)")
    ap.add_argument(
        "--code",
        default=None,
        metavar="DIR",
        help="run the platform from another checkout (git worktree add DIR COMMIT): the "
        "baseline of a before/after pair measured by this same tool",
    )
    a = ap.parse_args(argv)
    a.out = a.out or str(
        REPO / "bench" / "results" / f"profile_invoke{'_' + a.label if a.label else ''}.json"
    )
    for tool in ("py-spy", "wrk"):
        if not shutil.which(tool):
            raise SystemExit(
                f"{tool} is required (py-spy: pip install py-spy; wrk: apt-get install wrk)"
            )

    work = Path(tempfile.mkdtemp(prefix="tango-profile-"))
    code = Path(a.code).resolve() if a.code else REPO
    p = platform_process.start(work, repo=code)
    try:
        platform_process.lift_throttles(p)
        pool = HttpPool("127.0.0.1", p.port)
        status, body = pool.json(
            "PUT",
            "/api/v1/namespaces/_/actions/noop?overwrite=true",
            {"exec": {"kind": "python:3.11", "code": NOOP}},
            headers=AUTH,
        )
        assert status == 200, body
        for _ in range(50):
            pool.json("POST", "/api/v1/namespaces/_/actions/noop?blocking=true", {}, headers=AUTH)
        comps = components(p.proc.pid, p.apihost)
        raw_dir = work / "raw"
        raw_dir.mkdir()
        spies = {
            name: subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--format",
                    "raw",
                    *(["--subprocesses"] if name == "container" else []),
                    "--rate",
                    str(a.rate),
                    "--duration",
                    str(a.seconds),
                    "--pid",
                    str(pids[0]),
                    "-o",
                    str(raw_dir / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pids in comps.items()
            if pids
        }
        load: dict = {}
        load_thread = threading.Thread(
            target=lambda: load.update(run_wrk(p.apihost, a.seconds, a.connections))
        )
        cpu0 = {n: procs.cpu_seconds(pids, waited_children=True) for n, pids in comps.items()}
        load0 = os.getloadavg()
        load_thread.start()
        load_thread.join()
        cpu1 = {n: procs.cpu_seconds(pids, waited_children=True) for n, pids in comps.items()}
        for spy in spies.values():
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        invokes = load["ok"]
        result_components = {}
        svg_dir = Path(a.svg_dir)
        svg_dir.mkdir(parents=True, exist_ok=True)
        for name in comps:
            stacks = parse_raw(raw_dir / f"{name}.txt")
            by_cat: Counter[str] = Counter()
            stacks = Counter({st: n for st, n in stacks.items() if not is_idle(st)})
            for stack, n in stacks.items():
                by_cat[categorize(list(stack))] += n
            samples = sum(by_cat.values())
            cpu_ms = 1000.0 * (cpu1[name] - cpu0[name]) / max(1, invokes)
            result_components[name] = {
                "pids": comps[name],
                "cpu_ms_per_invoke": cpu_ms,
                "samples": samples,
                "categories": {
                    c: {
                        "samples": n,
                        "share": n / samples,
                        "cpu_ms_per_invoke": cpu_ms * n / samples,
                    }
                    for c, n in by_cat.most_common()
                }
                if samples
                else {},
            }
            suffix = f"_{a.label}" if a.label else ""
            if (raw_dir / f"{name}.txt").exists():
                shutil.copy(raw_dir / f"{name}.txt", svg_dir / f"{name}{suffix}.collapsed.txt")
            (svg_dir / f"{name}{suffix}.svg").write_text(
                flame_svg(stacks, f"{name}: warm blocking invoke, {a.connections} connections")
            )
        total = sum(c["cpu_ms_per_invoke"] for c in result_components.values())
        print(
            f"\n{invokes} warm blocking invokes in {a.seconds} s ({invokes / a.seconds:.0f}/s), "
            f"{load['non_2xx']} non-2xx, load average {load0[0]:.2f}"
        )
        print(f"{'component':<12} {'part':<28} {'CPU ms/invoke':>14} {'share':>7}")
        for name, c in result_components.items():
            print(f"{name:<12} {'(all)':<28} {c['cpu_ms_per_invoke']:>14.3f} {'':>7}")
            for cat, v in c["categories"].items():
                print(
                    f"{'':<12} {cat:<28} {v['cpu_ms_per_invoke']:>14.3f} {100 * v['share']:>6.1f}%"
                )
        print(f"{'total':<12} {'':<28} {total:>14.3f}")
        out = {
            "command": " ".join(
                [Path(sys.executable).name, "-m", "bench.profile_invoke", *(argv or sys.argv[1:])]
            ),
            "when": datetime.now(UTC).isoformat(),
            "host": {
                "node": host_platform.node(),
                "cpus": os.cpu_count(),
                "python": host_platform.python_version(),
                "loadavg_before": load0,
                "loadavg_after": os.getloadavg(),
            },
            "code_commit": subprocess.run(
                ["git", "-C", str(code), "rev-parse", "HEAD"], capture_output=True, text=True
            ).stdout.strip(),
            "seconds": a.seconds,
            "connections": a.connections,
            "invokes": invokes,
            "non_2xx": load["non_2xx"],
            "invokes_per_s": invokes / a.seconds,
            "cpu_ms_per_invoke_total": total,
            "components": result_components,
            "categories_rules": [[c, p.pattern] for c, p in CATEGORIES],
            "wrk_output": load["wrk"],
        }
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
        print(f"saved {a.out} and flame graphs in {svg_dir}")
    finally:
        p.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
