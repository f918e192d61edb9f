"""Synthesizer on small synthetic DAGs whose right answer is computed by hand in comments."""

from types import SimpleNamespace as NS

import pytest

import hint_dsl
from common.sizes import Size
from controller.adapter.state import NodeState
from hint_dsl.profiles import Profiles, Sample, makespan
from hint_dsl.synthesizer import synthesize

SMALL, MEDIUM, LARGE = Size(0.5, 256, "small"), Size(1, 512, "medium"), Size(2, 1024, "large")


def node(id, depends=(), foreach=None):
    return NS(id=id, action=f"guest/{id}", depends=list(depends), foreach=foreach)


def workflow(slo_ms, *nodes):
    return NS(name="wf", slo_ms=slo_ms, percentile=99, nodes=list(nodes))


def profiles_from(options, latencies, input_bytes=1000, runs=3):
    """latencies: {fn: {option: ms}} -> identical samples per run."""
    p = Profiles("wf", {o.option: o for o in options})
    for fn, per in latencies.items():
        for opt, ms in per.items():
            for r in range(runs):
                p.add(Sample(fn, opt, ms, input_bytes, r, 0))
    return p


def rules_of(text, fn):
    return [hint_dsl.printer.format_rule(r) for r in hint_dsl.parse(text).function(fn).rules]


CHAIN = {
    "a": {"small": 400, "medium": 250, "large": 200},
    "b": {"small": 600, "medium": 350, "large": 300},
}


def test_chain_by_hand():
    # cost = cpu x latency: a small 200 / medium 250 / large 400; b small 300 / medium 350 / large 600.
    # b alone: small needs 600ms, medium 350ms, large 300ms  -> thresholds 350, 600.
    # a at budget B picks the cheapest (a + b at B - t_a) that fits:
    #   B=750: small 400 + b medium 350 = 750 fits, cost 200+350=550 < medium's 250+350 -> small
    #   B=700: small leaves 300 -> b large, cost 800; medium leaves 450 -> b medium, 600 -> medium
    #   B=600: small does not fit (400+300); medium 250+350 fits, 600 < large's 750 -> medium
    #   B=550: medium leaves 300 -> b large: 850; large leaves 350 -> b medium: 750 -> large
    wf = workflow(1000, node("a"), node("b", ["a"]))
    s = synthesize(
        wf, profiles_from([SMALL, MEDIUM, LARGE], CHAIN), [SMALL, MEDIUM, LARGE], margin=0.0
    )
    assert rules_of(s.text, "b") == [
        "when remaining < 350ms use large",
        "when remaining < 600ms use medium",
        "otherwise use small",
    ]
    assert rules_of(s.text, "a") == [
        "when remaining < 600ms use large",
        "when remaining < 750ms use medium",
        "otherwise use small",
    ]
    assert hint_dsl.check(s.text, ["a", "b"]) == []
    r = s.report
    assert r["rules_before"] == 2 * 21 and r["rules_after"] == 6
    assert r["feasible_at_slo"] and r["predicted_tail_ms"] == 1000
    assert r["functions"]["a"]["min_feasible_budget_ms"] == 500  # large 200 + b large 300


def test_margin_inflates_tails():
    wf = workflow(1000, node("a"), node("b", ["a"]))
    s = synthesize(
        wf, profiles_from([SMALL, MEDIUM, LARGE], CHAIN), [SMALL, MEDIUM, LARGE], margin=0.2
    )
    # b small now needs 720ms, medium 420ms: the thresholds move up.
    assert rules_of(s.text, "b") == [
        "when remaining < 450ms use large",
        "when remaining < 750ms use medium",
        "otherwise use small",
    ]


def test_parallel_branches_each_get_the_remaining_budget():
    # a (only profiled at small, 100ms) -> b and c in parallel. Costs: b small 400 / large 800,
    # c small 300 / large 600 (large has 4 cores here).
    big = Size(4, 1024, "large")
    opts = [SMALL.__class__(1, 256, "small"), big]
    p = profiles_from(
        opts,
        {"a": {"small": 100}, "b": {"small": 400, "large": 200}, "c": {"small": 300, "large": 150}},
    )
    wf = workflow(500, node("a"), node("b", ["a"]), node("c", ["a"]))
    s = synthesize(wf, p, opts, margin=0.0)
    assert rules_of(s.text, "b") == ["when remaining < 400ms use large", "otherwise use small"]
    assert rules_of(s.text, "c") == ["when remaining < 300ms use large", "otherwise use small"]
    assert rules_of(s.text, "a") == ["otherwise use small"]
    # a's time = 100 + max(b, c): at 500 both branches small -> 100 + 400.
    assert s.report["predicted_tail_ms"] == 500
    # At 300: 200 left -> b large 200, c large 150 -> 300 fits; at 250 b cannot fit.
    assert s.report["functions"]["a"]["min_feasible_budget_ms"] == 300


def test_foreach_node_lasts_its_slowest_item_and_costs_all_items():
    p = Profiles("wf", {"small": Size(1, 256, "small"), "large": Size(4, 1024, "large")})
    for opt, items in {"small": [100, 300, 200], "large": [60, 150, 90]}.items():
        for r in range(2):
            for i, ms in enumerate(items):
                p.add(Sample("f", opt, ms, 500, r, 0, i))
    assert p.node_latencies("f", "small") == [300, 300]
    assert p.cost("f", "small")[0] == 600 and p.cost("f", "large")[0] == 1200
    wf = workflow(400, node("f", foreach="src.items"))
    s = synthesize(wf, p, list(p.options.values()), margin=0.0)
    assert rules_of(s.text, "f") == ["when remaining < 300ms use large", "otherwise use small"]


def test_makespan_deals_items_in_order_to_the_first_free_slot():
    assert makespan([], 2) == 0.0
    assert makespan([100, 300, 200], None) == 300  # unbounded: all at once
    assert makespan([100, 300, 200], 3) == 300  # they all fit
    assert makespan([100, 300, 200], 1) == 600  # one after another
    # two slots: 100 and 300 start; 200 takes the slot freed at 100 -> ends at 300
    assert makespan([100, 300, 200], 2) == 300
    assert makespan([300, 100, 200, 50], 2) == 350  # 300 | 100, 200 (ends 300), 50 after 300


def test_foreach_items_share_the_capacity_the_profile_was_taken_with():
    # On 4 cores: small (1 core) runs 4 items at once, large (4 cores) one at a time.
    p = Profiles(
        "wf", {"small": Size(1, 256, "small"), "large": Size(4, 1024, "large")}, capacity_cores=4
    )
    for opt, items in {"small": [100, 300, 200], "large": [60, 150, 90]}.items():
        for r in range(2):
            for i, ms in enumerate(items):
                p.add(Sample("f", opt, ms, 500, r, 0, i))
    assert p.slots("small") == 4 and p.slots("large") == 1
    assert p.node_latencies("f", "small") == [300, 300]  # all three fit
    assert p.node_latencies("f", "large") == [300, 300]  # 60 + 150 + 90 in a row
    assert p.cost("f", "large")[0] == 1200  # billed the same either way
    # Unbounded profiles thought large (150 ms) saved time; on 4 cores it saves none, so a
    # 300 ms budget takes small at every level.
    wf = workflow(400, node("f", foreach="src.items"))
    s = synthesize(wf, p, list(p.options.values()), margin=0.0)
    assert rules_of(s.text, "f") == ["otherwise use small"]
    again = Profiles.from_json(p.to_json())
    assert again.capacity_cores == 4 and again.node_latencies("f", "large") == [300, 300]
    legacy = {k: v for k, v in p.to_json().items() if k != "capacityCores"}
    assert Profiles.from_json(legacy).node_latencies("f", "large") == [150, 150]


def test_size_class_split_is_kept_only_where_it_changes_the_choice():
    wf = workflow(1000, node("a"), node("b", ["a"]))
    opts = [SMALL, MEDIUM, LARGE]
    p = profiles_from(opts, CHAIN, input_bytes=1000)
    big_a = {"small": 600, "medium": 375, "large": 300}
    for opt, ms in big_a.items():
        for r in range(3, 6):
            p.add(Sample("a", opt, ms, 100_000, r, 0))
    for opt, ms in CHAIN["b"].items():
        for r in range(3, 6):
            p.add(Sample("b", opt, ms, 100_000, r, 0))
    s = synthesize(wf, p, opts, margin=0.0)
    # b's latency does not depend on the class: no input.bytes test.
    assert rules_of(s.text, "b") == [
        "when remaining < 350ms use large",
        "when remaining < 600ms use medium",
        "otherwise use small",
    ]
    # a: small inputs (class [512B, 1KB)) as in the chain test; large ones need more budget.
    assert rules_of(s.text, "a") == [
        "when input.bytes < 1KB and remaining < 600ms use large",
        "when input.bytes < 1KB and remaining < 750ms use medium",
        "when input.bytes < 1KB use small",
        "when remaining < 750ms use large",
        "when remaining < 950ms use medium",
        "otherwise use small",
    ]
    assert hint_dsl.check(s.text, ["a", "b"]) == []
    # Following the hints on the profiled latencies meets the SLO for both classes.
    compiled = hint_dsl.compile(s.text)
    for nbytes, a_lat in ((1000, CHAIN["a"]), (100_000, big_a)):
        state = NodeState(function="a", remaining_ms=1000.0, input_bytes=nbytes)
        oa = compiled.decide("a", state).option
        state = NodeState(function="b", remaining_ms=1000.0 - a_lat[oa], input_bytes=nbytes)
        ob = compiled.decide("b", state).option
        assert a_lat[oa] + CHAIN["b"][ob] <= 1000


def test_size_classes_follow_a_numeric_input_field_when_bytes_say_nothing():
    """Inputs passed by reference: every input is ~60 bytes of JSON, the work grows with `rows`."""
    wf = workflow(1000, node("a"), node("b", ["a"]))
    opts = [SMALL, MEDIUM, LARGE]
    p = Profiles("wf", {o.option: o for o in opts})
    big_a = {"small": 600, "medium": 375, "large": 300}
    for r, rows in enumerate((1000, 1000, 1000, 100_000, 100_000, 100_000)):
        lat_a = CHAIN["a"] if rows == 1000 else big_a
        for opt in lat_a:
            p.add(Sample("a", opt, lat_a[opt], 60, r, 0, features={"rows": rows, "seed": 7 + r}))
            p.add(Sample("b", opt, CHAIN["b"][opt], 60, r, 0, features={"rows": rows}))
    assert p.size_key("a") == "rows" and p.size_key("b") == "bytes"
    s = synthesize(wf, p, opts, margin=0.0)
    assert rules_of(s.text, "a")[:3] == [
        "when input.rows < 1024 and remaining < 600ms use large",
        "when input.rows < 1024 and remaining < 750ms use medium",
        "when input.rows < 1024 use small",
    ]
    assert hint_dsl.check(s.text, ["a", "b"]) == []
    compiled = hint_dsl.compile(s.text)
    small = compiled.decide(
        "a", NodeState(function="a", remaining_ms=900.0, input={"rows": 1000.0})
    ).option
    big = compiled.decide(
        "a", NodeState(function="a", remaining_ms=900.0, input={"rows": 100_000.0})
    ).option
    assert (small, big) == ("small", "medium")


def test_unprofiled_function_gets_the_largest_option_and_options_need_names():
    wf = workflow(1000, node("a"), node("b", ["a"]))
    s = synthesize(
        wf,
        profiles_from([SMALL, LARGE], {"a": {"small": 100, "large": 50}}),
        [SMALL, LARGE],
        margin=0.0,
    )
    assert rules_of(s.text, "b") == ["otherwise use large"]
    with pytest.raises(ValueError):
        synthesize(wf, Profiles("wf"), [Size(1, 256)])


def test_noisy_profiles_give_a_short_staircase_per_function_and_class():
    import random

    rng = random.Random(5)
    opts = [Size(0.25, 128, "xs"), SMALL, MEDIUM, LARGE]
    base = {"a": 300, "b": 500, "c": 200, "d": 250}
    p = Profiles("wf", {o.option: o for o in opts})
    run = 0
    for nbytes in (100_000, 1_000_000, 4_000_000):
        for _ in range(15):
            for fn, ms in base.items():
                for o in opts:
                    p.add(
                        Sample(
                            fn,
                            o.option,
                            ms * (nbytes / 1e6) ** 0.5 * o.cpu**-0.8 * rng.lognormvariate(0, 0.15),
                            nbytes,
                            run,
                            0,
                        )
                    )
            run += 1
    wf = workflow(2500, node("a"), node("b", ["a"]), node("c", ["a"]), node("d", ["b", "c"]))
    s = synthesize(wf, p, opts)
    assert hint_dsl.check(s.text, ["a", "b", "c", "d"]) == []
    tree = hint_dsl.parse(s.text)
    for fn in tree.functions:
        groups = {}
        for r in fn.rules:
            text = hint_dsl.printer.format_rule(r)
            key = text.split(" and ")[0] if "input.bytes" in text else "rest"
            groups.setdefault(key.replace(f" use {r.option}", ""), []).append(r.option)
        for options in groups.values():
            assert len(options) == len(set(options)), (fn.name, options)  # one range per option
    assert s.report["rules_after"] < s.report["rules_before"] / 10


def _classed(per_class, runs=3):
    """per_class: {input bytes: {option: ms}} for one function 'a' -> profiles."""
    p = Profiles("wf", {o.option: o for o in (SMALL, MEDIUM, LARGE)})
    r = 0
    for nbytes, per in per_class.items():
        for _ in range(runs):
            for opt, ms in per.items():
                p.add(Sample("a", opt, ms, nbytes, r, 0))
            r += 1
    return p


def test_rules_are_monotone_in_input_size():
    # The middle class is oddly fast at small (profile noise): on its own it would choose small
    # at a budget where the smaller inputs need medium. A larger input never gets a slower option.
    prof = _classed(
        {
            1 << 10: {"small": 900, "medium": 400, "large": 300},
            1 << 12: {"small": 500, "medium": 450, "large": 350},
            1 << 14: {"small": 2000, "medium": 1000, "large": 600},
        }
    )
    s = synthesize(workflow(1000, node("a")), prof, [SMALL, MEDIUM, LARGE], margin=0.0)
    hints = hint_dsl.compile(s.text, ["a"])
    speed = {"small": 0, "medium": 1, "large": 2}
    for remaining in range(100, 1001, 50):
        chosen = []
        for nbytes in (1 << 10, 1 << 12, 1 << 14):
            st = NodeState(function="a", remaining_ms=float(remaining), input_bytes=nbytes)
            chosen.append(speed[hints.decide("a", st).size.option])
        assert chosen == sorted(chosen), (remaining, chosen)


def test_thin_classes_warn_and_follow_the_next_larger_class():
    prof = _classed(
        {
            1 << 10: {"small": 300, "medium": 250, "large": 200},
            1 << 14: {"small": 2000, "medium": 900, "large": 600},
        }
    )
    for opt, ms in {"small": 100, "medium": 900, "large": 900}.items():  # one odd run
        prof.add(Sample("a", opt, ms, 1 << 12, 99, 0))
    s = synthesize(workflow(1000, node("a")), prof, [SMALL, MEDIUM, LARGE], margin=0.0)
    assert len(s.report["warnings"]) == 1 and "input class 12" in s.report["warnings"][0]
    from cli.commands.hints import format_size_report  # what `tango hints synthesize` prints

    assert "warning: a: input class 12 has 1 profiled run(s)" in format_size_report(s.report)
    hints = hint_dsl.compile(s.text, ["a"])
    st = NodeState(function="a", remaining_ms=1000.0, input_bytes=1 << 12)
    assert hints.decide("a", st).size.option == "medium"  # as class 14, not the noisy small


def test_profiles_thin_everywhere_still_synthesize_monotone_rules():
    prof = _classed(
        {
            1 << 10: {"small": 300, "medium": 250, "large": 200},
            1 << 12: {"small": 100, "medium": 900, "large": 900},
            1 << 14: {"small": 2000, "medium": 900, "large": 600},
        },
        runs=1,
    )
    s = synthesize(workflow(1000, node("a")), prof, [SMALL, MEDIUM, LARGE], margin=0.0)
    assert len(s.report["warnings"]) == 3
    hints = hint_dsl.compile(s.text, ["a"])
    speed = {"small": 0, "medium": 1, "large": 2}
    chosen = [
        speed[
            hints.decide(
                "a", NodeState(function="a", remaining_ms=1000.0, input_bytes=n)
            ).size.option
        ]
        for n in (1 << 10, 1 << 12, 1 << 14)
    ]
    assert chosen == sorted(chosen)


def test_a_field_with_too_few_samples_per_class_is_not_a_size_key():
    # Four runs; a checksum lands each in its own class and so "explains" their latency.
    prof = Profiles("wf", {SMALL.option: SMALL})
    for r, (crc, ms) in enumerate([(3, 100), (300, 200), (30000, 400), (3000000, 800)]):
        prof.add(Sample("a", "small", ms, 1000, r, 0, None, {"crc": float(crc)}))
    assert prof.size_key("a") == "bytes"
    for r in range(4, 16):  # with three runs per class it may be
        crc, ms = [(3, 100), (300, 200), (30000, 400), (3000000, 800)][r % 4]
        prof.add(Sample("a", "small", ms, 1000, r, 0, None, {"crc": float(crc)}))
    assert prof.size_key("a") == "crc"
