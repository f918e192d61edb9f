"""Each function's speed-up curve, fitted on the options it was measured at, for options it
was not (e.g. 4 and 8 cores on a 2-core host). Extrapolated figures are labelled as such.

Model: Amdahl's law under a CFS quota. With serial fraction s, an activation that takes T1 at
one core takes

    T(c) = T1 * (s + (1 - s) / c)                          for c >= 1

at c cores: only the parallel part speeds up. Below one core the quota throttles the whole
run, per CFS period (P = 100 ms): it runs at full speed until it has used c * P in the period,
then waits for the next one, so T(c) = T1 when T1 <= c * P (a short activation never meets the
quota) and about T1 / c for long ones (`throttled_ms`). Validation against the measured
half-core runs showed why this matters: with T(c) = T1 / c for every run, functions of tens
of milliseconds were predicted twice as slow as measured (leave-one-option-out errors of
80-110 %, docs/janus.md "Simulator").

s is fitted per function by least squares on the run-time ratios between the options at or
above one core each activation was measured at (so large and small inputs weigh alike); T1 of
an activation comes from its own measured options. Options below one core say nothing about s:
s needs at least two measured options at or above one core, else it defaults to 0 (perfect
scaling) and the curve is marked `identified = False`. `leave_one_option_out` reports how well
each measured option is predicted from the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from common.sizes import Size
from hint_dsl.profiles import Profiles, percentile

CFS_PERIOD_MS = 100.0  # the kernel's default cpu.cfs_period_us, which Docker keeps


def throttled_ms(work_ms: float, cpu: float, period_ms: float = CFS_PERIOD_MS) -> float:
    """Wall time of `work_ms` of single-threaded CPU work under a quota of cpu < 1 cores."""
    quota = cpu * period_ms
    if work_ms <= quota:
        return work_ms
    full, rest = divmod(work_ms, quota)
    return full * period_ms + rest if rest > 1e-9 else (full - 1) * period_ms + quota


def shape(s: float, cpu: float) -> float:
    """T(c) / T(1) for serial fraction s, ignoring the CFS period (long activations)."""
    return s / min(cpu, 1.0) + (1.0 - s) / cpu


def time_at(t1_ms: float, s: float, cpu: float) -> float:
    """Run time at `cpu` cores of an activation taking t1_ms at one core (module doc)."""
    if cpu >= 1.0:
        return t1_ms * shape(s, cpu)
    return throttled_ms(t1_ms, cpu)


def t1_from(ms: float, s: float, cpu: float) -> float:
    """The one-core time of an activation measured at ms on `cpu` cores (inverse of time_at)."""
    if cpu >= 1.0:
        return ms / shape(s, cpu)
    lo, hi = ms * cpu * 0.5, ms
    for _ in range(60):  # time_at is monotone in t1: bisection
        mid = (lo + hi) / 2
        if time_at(mid, s, cpu) < ms:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class SpeedupCurve:
    function: str
    serial_fraction: float
    identified: bool  # False: no two measured options >= 1 core, s defaulted to 0

    def t1(self, latencies: dict[str, float], options: dict[str, Size]) -> float:
        """An activation's one-core time from its measured (option -> ms) run times."""
        xs = [t1_from(ms, self.serial_fraction, options[o].cpu) for o, ms in latencies.items()]
        return math.exp(sum(math.log(max(x, 1e-6)) for x in xs) / len(xs))

    def predict(self, t1_ms: float, cpu: float) -> float:
        return time_at(t1_ms, self.serial_fraction, cpu)

    def predict_from(self, latencies: dict, options: dict[str, Size], option: str) -> float:
        """Run time at `option` from an activation's measured latencies (medians of repeats)."""
        med = {o: _median(xs) for o, xs in latencies.items()}
        return self.predict(self.t1(med, options), options[option].cpu)


def _median(xs) -> float:
    return percentile(list(xs), 50) if isinstance(xs, (list, tuple)) else float(xs)


def fit_serial_fraction(
    pairs: list[tuple[float, float, float]],
) -> tuple[float, bool]:
    """Least-squares s in [0, 1] from (cpu_a, cpu_b, T_a / T_b) ratios; (s, identified)."""
    useful = [(a, b, r) for a, b, r in pairs if a >= 1.0 and b >= 1.0 and a != b and r > 0]
    if not useful:
        return 0.0, False
    best, best_err = 0.0, math.inf
    for k in range(1001):  # a 1-D bounded fit: a grid is exact enough and never diverges
        s = k / 1000.0
        err = sum((math.log(shape(s, a) / shape(s, b)) - math.log(r)) ** 2 for a, b, r in useful)
        if err < best_err:
            best, best_err = s, err
    return best, True


def _activation_medians(profiles: Profiles, function: str) -> list[dict[str, float]]:
    groups: dict[tuple[int, int], dict[str, list[float]]] = {}
    for s in profiles.samples:
        if s.function == function:
            groups.setdefault((s.run, s.item or 0), {}).setdefault(s.option, []).append(
                s.latency_ms
            )
    return [{o: _median(xs) for o, xs in g.items()} for g in groups.values()]


def _pairs(meds: list[dict[str, float]], options: dict[str, Size], skip: str | None = None):
    out = []
    for m in meds:
        names = [o for o in m if o != skip]
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                out.append((options[a].cpu, options[b].cpu, m[a] / m[b]))
    return out


def fit_curve(profiles: Profiles, function: str, skip: str | None = None) -> SpeedupCurve:
    meds = _activation_medians(profiles, function)
    s, identified = fit_serial_fraction(_pairs(meds, profiles.options, skip))
    return SpeedupCurve(function, s, identified)


def fit_curves(profiles: Profiles) -> dict[str, SpeedupCurve]:
    return {f: fit_curve(profiles, f) for f in profiles.functions()}


def leave_one_option_out(profiles: Profiles) -> dict[str, dict[str, dict]]:
    """Per function and measured option: the curve fitted without that option predicts it from
    each activation's other options. -> {function: {option: {"n", "median_abs_error",
    "mean_error", "max_abs_error", "identified", "serial_fraction"}}} (errors as fractions)."""
    out: dict[str, dict[str, dict]] = {}
    for f in profiles.functions():
        meds = _activation_medians(profiles, f)
        per: dict[str, dict] = {}
        for o in profiles.options:
            if not any(o in m and len(m) > 1 for m in meds):
                continue
            s, identified = fit_serial_fraction(_pairs(meds, profiles.options, skip=o))
            curve = SpeedupCurve(f, s, identified)
            errors = []
            for m in meds:
                rest = {k: v for k, v in m.items() if k != o}
                if o in m and rest:
                    pred = curve.predict(curve.t1(rest, profiles.options), profiles.options[o].cpu)
                    errors.append(pred / m[o] - 1.0)
            if errors:
                abs_sorted = sorted(abs(e) for e in errors)
                per[o] = {
                    "n": len(errors),
                    "median_abs_error": percentile(abs_sorted, 50),
                    "mean_error": sum(errors) / len(errors),
                    "max_abs_error": abs_sorted[-1],
                    "identified": identified,
                    "serial_fraction": s,
                }
        out[f] = per
    return out
