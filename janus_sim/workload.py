"""What one workflow request does, as the simulator replays it: per node its activations, each
with the input the adapter will see (bytes and numeric fields) and measured run times per
size option.

Built from saved `Profiles` (`shapes_from_profiles`): profiling input `run` becomes one
`RequestShape`, its samples (several repeats) the duration distribution of each activation at
each option. Options a function was never measured at come from its fitted speed-up curve
(`janus_sim.speedup`), labelled as extrapolated. Live records of the same inputs can be added
as further samples (`RequestShape.with_samples`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from hint_dsl.profiles import Profiles


@dataclass(frozen=True)
class ActivationShape:
    """One activation of a node: its input as `NodeState` shows it and its run times."""

    input_bytes: int
    features: dict[str, float]
    latencies: dict[str, tuple[float, ...]]  # option -> measured ms (repeats, live records)
    extrapolated: frozenset[str] = frozenset()  # options whose latencies come from a fit

    def duration_ms(self, option: str, u: float) -> float:
        """The run time at `option` for quantile draw u in [0, 1): one of the samples, the same
        one for every policy given the same u (common random numbers)."""
        xs = self.latencies[option]
        return xs[min(int(u * len(xs)), len(xs) - 1)]


@dataclass(frozen=True)
class RequestShape:
    """One workflow input: node id -> its activations (a foreach node has one per item)."""

    run: int  # profiling input index
    nodes: dict[str, tuple[ActivationShape, ...]]
    root_features: dict[str, float] = field(default_factory=dict)

    def activations(self) -> int:
        return sum(len(a) for a in self.nodes.values())

    def with_samples(self, node: str, item: int, option: str, latencies: list[float]):
        """A copy with more measured run times for one activation at one option."""
        acts = list(self.nodes[node])
        a = acts[item]
        acts[item] = replace(
            a,
            latencies={
                **a.latencies,
                option: tuple(sorted(a.latencies.get(option, ()) + tuple(latencies))),
            },
            extrapolated=a.extrapolated - {option},
        )
        return replace(self, nodes={**self.nodes, node: tuple(acts)})


def shapes_from_profiles(workflow, profiles: Profiles, curves=None) -> list[RequestShape]:
    """One shape per profiling input that every node of `workflow` was measured on.

    curves: {function: SpeedupCurve} for options a function lacks (default: fitted here from
    the same profiles); an option with no samples and no curve is left out, so a policy that
    picks it fails loudly in the simulator rather than running at a made-up speed."""
    from .speedup import fit_curves

    curves = fit_curves(profiles) if curves is None else curves
    options = list(profiles.options)
    grouped: dict[tuple[int, str, int], list] = {}
    for s in profiles.samples:
        grouped.setdefault((s.run, s.function, s.item or 0), []).append(s)
    shapes = []
    for run in sorted({s.run for s in profiles.samples}):
        nodes: dict[str, tuple[ActivationShape, ...]] = {}
        for n in workflow.nodes:
            items = sorted(i for (r, f, i) in grouped if r == run and f == n.id)
            if not items:
                break
            acts = []
            for i in items:
                samples = grouped[(run, n.id, i)]
                lat: dict[str, tuple[float, ...]] = {}
                for o in options:
                    xs = sorted(s.latency_ms for s in samples if s.option == o)
                    if xs:
                        lat[o] = tuple(xs)
                extra = set()
                curve = curves.get(n.id)
                if curve is not None and lat:
                    for o in options:
                        if o not in lat:
                            lat[o] = (curve.predict_from(lat, profiles.options, o),)
                            extra.add(o)
                first = samples[0]
                acts.append(
                    ActivationShape(first.input_bytes, dict(first.features), lat, frozenset(extra))
                )
            nodes[n.id] = tuple(acts)
        else:
            root = workflow.nodes[0].id
            shapes.append(RequestShape(run, nodes, dict(nodes[root][0].features)))
    if not shapes:
        raise ValueError(
            f"the profiles of '{profiles.workflow}' cover no input on every node of the workflow: "
            "profile it first (tango hints profile)"
        )
    return shapes


def nearest_shape(shapes: list[RequestShape], run_input: dict) -> RequestShape:
    """The profiled input closest to `run_input`: log distance over shared numeric fields
    (a request's work follows its size, so a 2x larger table is as far as a 2x smaller one)."""

    def distance(shape: RequestShape) -> float:
        keys = [
            k
            for k, v in run_input.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k in shape.root_features
        ]
        if not keys:
            return math.inf
        return sum(
            (math.log1p(abs(float(run_input[k]))) - math.log1p(abs(shape.root_features[k]))) ** 2
            for k in keys
        )

    best = min(shapes, key=distance)
    if math.isinf(distance(best)):
        raise ValueError(
            "the input shares no numeric field with the profiled inputs "
            f"({', '.join(sorted(shapes[0].root_features)) or 'none'}): cannot place it"
        )
    return best
