"""Profiles: measured latencies of each workflow function at each size option.

Written by `hint_dsl.profiler`, stored by the controller as plain JSON (`to_json`/`from_json`),
read by the synthesizer and by the adapter's policies (static sizing, sub-SLOs, drift baselines).

Input-size classes are log2 buckets of an input *size key*: class k holds inputs whose key lies
in [2^k, 2^(k+1)). The key is chosen per function from the profiles: the input's JSON size in
bytes, or a numeric input field (`rows`, `item.frames`) when that explains the function's
latency clearly better — workflows that pass data by reference (a seed and dimensions) have
inputs whose byte size says nothing about the work. Classes need no training step, are stable
as profiles grow, and map to readable thresholds (`input.bytes < 2MB`, `input.rows < 65536`).
The synthesizer keeps a class split only where it changes the chosen option.

Latencies come at two levels: per activation (`latencies`) and per node run (`node_latencies`).
A foreach node runs its items in parallel, but only as many at once as the platform's CPU holds:
with `capacity_cores` C (the invokers' CPU capacity when the profile was taken) an option of c
cores runs floor(C / c) items at a time, so a node run lasts the makespan of its items dealt in
order to that many slots (the slowest item when they all fit) and costs the sum of its items.
The profiler measures items one at a time; the synthesizer and policies reason about node runs.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import asdict, dataclass, field

from common.sizes import Size
from common.stats import percentile as percentile  # re-exported for the profiles' readers


def size_class(input_bytes: int | float | None) -> int:
    """log2 bucket of an input size in bytes (0 for empty or unknown)."""
    if not input_bytes or input_bytes < 1:
        return 0
    return int(math.floor(math.log2(input_bytes)))


def class_bounds(k: int) -> tuple[int, int]:
    """[low, high) bytes of size class k."""
    return (0 if k == 0 else 2**k), 2 ** (k + 1)


@dataclass
class Sample:
    function: str  # workflow node id
    option: str
    latency_ms: float
    input_bytes: int = 0
    run: int = 0  # index of the profiling input
    repeat: int = 0
    item: int | None = None  # foreach item index
    features: dict = field(default_factory=dict)  # numeric input fields, as hints see them


@dataclass
class NodeRun:
    """One run of a node (all its foreach items) at one option."""

    latency_ms: float  # makespan of the items on the slots the option leaves (module doc)
    work_ms: float  # sum over items: what the run is billed for
    size_class: int
    run: int = 0  # which profiling input
    items: int = 1  # activations in the run (a foreach node's items)


@dataclass
class Profiles:
    workflow: str
    options: dict[str, Size] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    # Activations that failed while profiling (e.g. out of memory at a small option): that
    # option is infeasible for the function at that input-size class, and for it as a whole.
    failures: list[dict] = field(default_factory=list)
    # CPU cores the platform had for these functions (None: unbounded, every item at once).
    capacity_cores: float | None = None

    def __post_init__(self):
        self._runs: dict | None = None
        self._keys: dict[str, str] = {}

    # -- size keys -----------------------------------------------------------------------
    def size_key(self, function: str) -> str:
        """``bytes`` or the numeric input field whose log2 classes explain most of the
        function's latency variance (it must beat bytes by a clear margin: 0.2 of eta², and
        have at least 3 samples per class on average)."""
        if function not in self._keys:
            self._keys[function] = self._choose_key(function)
        return self._keys[function]

    def _choose_key(self, function: str) -> str:
        samples = [s for s in self.samples if s.function == function]
        if not samples:
            return "bytes"
        option = max(
            set(s.option for s in samples), key=lambda o: sum(1 for s in samples if s.option == o)
        )
        at = [s for s in samples if s.option == option]
        fields = set.intersection(*(set(s.features) for s in at)) if at else set()
        # A field must put at least 3 samples in each of its classes on average: with fewer,
        # any field (a seed, a checksum) "explains" the latency of a handful of runs.
        fields = {
            f for f in fields if len({size_class(s.features.get(f, 0)) for s in at}) * 3 <= len(at)
        }
        scores = {key: _explained(at, key) for key in ["bytes", *sorted(fields)]}
        best = max(scores, key=lambda k: (scores[k], k == "bytes"))
        return best if best == "bytes" or scores[best] >= scores["bytes"] + 0.2 else "bytes"

    def key_value(self, function: str, item) -> float:
        """The size-key value of a sample or failure record of `function`."""
        key = self.size_key(function)
        if isinstance(item, dict):
            return (
                item.get("input_bytes", 0)
                if key == "bytes"
                else (item.get("features") or {}).get(key, 0)
            )
        return item.input_bytes if key == "bytes" else item.features.get(key, 0)

    def class_of(self, function: str, item) -> int:
        return size_class(self.key_value(function, item))

    def size_class_of_input(self, function: str, input_bytes: int, features: dict) -> int:
        """The size class of a live input of `function` (its JSON bytes and numeric fields)."""
        key = self.size_key(function)
        return size_class(input_bytes if key == "bytes" else features.get(key, 0))

    def add(self, sample: Sample):
        self.samples.append(sample)
        self._runs = None
        self._keys = {}

    # -- JSON ----------------------------------------------------------------------------
    def add_failure(
        self,
        function: str,
        option: str,
        input_bytes: int,
        run: int,
        error: str,
        features: dict | None = None,
    ) -> None:
        self.failures.append(
            {
                "function": function,
                "option": option,
                "input_bytes": input_bytes,
                "features": features or {},
                "run": run,
                "error": error,
            }
        )
        self._runs = None

    def failed(self, function: str, option: str, size_class_: int | None = None) -> bool:
        return any(
            f["function"] == function
            and f["option"] == option
            and (size_class_ is None or self.class_of(function, f) == size_class_)
            for f in self.failures
        )

    def to_json(self) -> dict:
        return {
            "workflow": self.workflow,
            "options": {n: s.to_json() for n, s in self.options.items()},
            "samples": [asdict(s) for s in self.samples],
            "failures": list(self.failures),
            "capacityCores": self.capacity_cores,
        }

    @classmethod
    def from_json(cls, d: dict) -> Profiles:
        return cls(
            d["workflow"],
            {n: Size.from_json(s) for n, s in d.get("options", {}).items()},
            [Sample(**s) for s in d.get("samples", [])],
            list(d.get("failures", [])),
            d.get("capacityCores"),
        )

    def held_cores(self, function: str, option: str, run: int | None = None) -> float:
        """CPU a run of `function` at `option` holds while it runs: the option's cores for each
        item running at once (in profiling input `run`, or the most items any run had)."""
        runs = [
            r
            for r in self._node_run_index().get((function, option), [])
            if run is None or r.run == run
        ]
        items = max((r.items for r in runs), default=1)
        slots = self.slots(option)
        return self.options[option].cpu * (items if slots is None else min(items, slots))

    def slots(self, option: str) -> int | None:
        """How many items of a foreach node run at once at `option` (None: all of them)."""
        if not self.capacity_cores:
            return None
        return max(1, int(self.capacity_cores / self.options[option].cpu + 1e-9))

    # -- queries -------------------------------------------------------------------------
    def functions(self) -> list[str]:
        return list(dict.fromkeys(s.function for s in self.samples))

    def latencies(self, function: str, option: str, size_class: int | None = None) -> list[float]:
        """Per-activation latencies (foreach items separately)."""
        return [
            s.latency_ms
            for s in self.samples
            if s.function == function
            and s.option == option
            and (size_class is None or self.class_of(function, s) == size_class)
        ]

    def node_runs(self, function: str, option: str, size_class: int | None = None) -> list[NodeRun]:
        """Runs of `function` at `option` (in one size class); none where the option failed, so
        the synthesizer and the baselines never plan an option that could not run the input."""
        if self.failed(function, option, size_class):
            return []
        runs = self._node_run_index().get((function, option), [])
        return [r for r in runs if size_class is None or r.size_class == size_class]

    def node_latencies(
        self, function: str, option: str, size_class: int | None = None
    ) -> list[float]:
        return [r.latency_ms for r in self.node_runs(function, option, size_class)]

    def size_classes(self, function: str) -> list[int]:
        return sorted(
            {
                r.size_class
                for (f, _), runs in self._node_run_index().items()
                if f == function
                for r in runs
            }
        )

    def run_classes(self, function: str) -> dict[int, int]:
        """Profiling input index -> size class of this node's input in that run. Links the
        classes of a node to those of its successors (a large upload gives a large resize)."""
        return {
            r.run: r.size_class
            for (f, _), runs in self._node_run_index().items()
            if f == function
            for r in runs
        }

    def tail_ms(
        self,
        function: str,
        option: str,
        p: float,
        margin: float = 0.0,
        size_class: int | None = None,
    ) -> float | None:
        """Node latency at percentile p, inflated by a safety margin (0.1 = +10 %)."""
        value = percentile(self.node_latencies(function, option, size_class), p)
        return None if value is None else value * (1.0 + margin)

    def cost(
        self, function: str, option: str, size_class: int | None = None
    ) -> tuple[float, float]:
        """Mean (core-ms, MB-ms) of one node run at `option`: cpu first, memory to break ties."""
        runs = self.node_runs(function, option, size_class)
        if not runs:
            return math.inf, math.inf
        work = sum(r.work_ms for r in runs) / len(runs)
        size = self.options[option]
        return size.cpu * work, size.memory * work

    def _node_run_index(self) -> dict:
        if self._runs is None:
            groups: dict[tuple, list[Sample]] = {}
            for s in self.samples:
                groups.setdefault((s.function, s.option, s.run, s.repeat), []).append(s)
            index: dict[tuple, list[NodeRun]] = {}
            for (fn, opt, _, _), items in groups.items():
                items.sort(key=lambda s: s.item or 0)
                slots = self.slots(opt) if opt in self.options else None
                run = NodeRun(
                    makespan([s.latency_ms for s in items], slots),
                    sum(s.latency_ms for s in items),
                    size_class(max(self.key_value(fn, s) for s in items)),
                    items[0].run,
                    len(items),
                )
                index.setdefault((fn, opt), []).append(run)
            self._runs = index
        return self._runs


def makespan(latencies: list[float], slots: int | None) -> float:
    """When the last of `latencies` ends if they start in order, each on the first of `slots`
    parallel slots to come free (all at once when `slots` is None or not fewer than them)."""
    if not latencies:
        return 0.0
    if slots is None or slots >= len(latencies):
        return max(latencies)
    free = [0.0] * slots
    for latency in latencies:
        heapq.heappush(free, heapq.heappop(free) + latency)
    return max(free)


def _explained(samples: list[Sample], key: str) -> float:
    """eta²: the share of the variance of log latency explained by the log2 classes of `key`."""
    logs = [math.log(max(s.latency_ms, 1e-3)) for s in samples]
    if len(logs) < 2:
        return 0.0
    mean = sum(logs) / len(logs)
    total = sum((x - mean) ** 2 for x in logs)
    if total == 0:
        return 0.0
    groups: dict[int, list[float]] = {}
    for s, x in zip(samples, logs, strict=False):
        value = s.input_bytes if key == "bytes" else s.features.get(key, 0)
        groups.setdefault(size_class(value), []).append(x)
    within = sum((x - sum(g) / len(g)) ** 2 for g in groups.values() for x in g)
    return 1.0 - within / total
