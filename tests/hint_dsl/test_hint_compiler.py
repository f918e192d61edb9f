"""Compiled decisions agree with the reference interpreter and allocate nothing per decision."""

import itertools
import random
import tracemalloc

import hint_dsl
from controller.adapter.state import NodeState
from hint_dsl import ast
from hint_dsl.compiler import compile_condition, evaluate

VARIABLES = [
    ("remaining",),
    ("elapsed",),
    ("input", "bytes"),
    ("input", "width"),
    ("upstream", "a", "duration"),
    ("stats", "a", "p95"),
]
UNIT = {ast.TIME: "ms", ast.BYTES: "KB", ast.NUMBER: None}


def random_condition(rng: random.Random, depth: int = 0) -> ast.Condition:
    roll = rng.random()
    if depth < 3 and roll < 0.25:
        return ast.BoolOp(
            rng.choice(["and", "or"]),
            [random_condition(rng, depth + 1) for _ in range(rng.randint(2, 3))],
        )
    if depth < 3 and roll < 0.35:
        return ast.Not(random_condition(rng, depth + 1))
    var = ast.Variable(rng.choice(VARIABLES))
    op = rng.choice(["<", "<=", ">", ">=", "==", "!="])
    if rng.random() < 0.15:  # variable against variable of the same dimension
        other = ast.Variable(
            rng.choice([v for v in VARIABLES if ast.Variable(v).dimension == var.dimension])
        )
        return ast.Compare(var, op, other)
    q = ast.Quantity(float(rng.choice([0, 1, 5, 10, 100, 500, 1000])), UNIT[var.dimension])
    return ast.Compare(var, op, q) if rng.random() < 0.8 else ast.Compare(q, op, var)


def random_state(rng: random.Random) -> NodeState:
    def maybe(v):
        return v if rng.random() < 0.8 else None

    width = maybe(float(rng.choice([0, 1, 5, 10, 100, 500])))
    up = maybe(float(rng.choice([0, 1, 5, 10, 100, 500, 1000])))
    p95 = maybe(float(rng.choice([0, 5, 100, 1000])))
    return NodeState(
        workflow="w",
        function="f",
        action="g/f",
        slo_ms=1000.0,
        remaining_ms=float(rng.choice([-5, 0, 1, 5, 10, 100, 500, 1000, 2000])),
        elapsed_ms=float(rng.choice([0, 1, 5, 10, 100, 500, 1000])),
        input_bytes=rng.choice([0, 1024, 5 * 1024, 100 * 1024, 10**6]),
        input={} if width is None else {"width": width},
        upstream={} if up is None else {"a": up},
        stats=None if p95 is None else {"a": {"p95": p95}},
    )


def test_compiled_conditions_match_interpreter_on_random_states():
    rng = random.Random(20240611)
    for _ in range(400):
        cond = random_condition(rng)
        compiled = compile_condition(cond)
        for _ in range(25):
            state = random_state(rng)
            assert compiled(state) == evaluate(cond, state), hint_dsl.printer.format_condition(cond)


def test_compiled_decisions_match_interpreter(design_example):
    tree = hint_dsl.parse(design_example)
    compiled = hint_dsl.compile(tree)
    rng = random.Random(7)
    seen = set()
    for _ in range(2000):
        s = random_state(rng)
        s.input_bytes = rng.choice([0, 3 * 1024**2, 5 * 1024**2])
        s.upstream = {"resize": float(rng.choice([100, 700, 701, 900]))}
        for fn in ("resize", "classify"):
            expected = hint_dsl.interpret(tree, fn, s)
            got = compiled.decide(fn, s)
            assert got.line == expected.line and got.option == expected.option
            seen.add((fn, got.index))
    assert len(seen) == 6  # every rule was taken at least once
    assert compiled.decide("unknown", random_state(rng)) is None


def test_missing_variables_make_comparisons_false():
    compiled = hint_dsl.compile(
        "workflow w slo 1s\noption a cpu 1 memory 1GB\noption b cpu 2 memory 1GB\nfunction f\n"
        "  when input.width > 10 use b\n  when stats.f.p95 > 1ms use b\n"
        "  when not (upstream.g.duration > 1ms) use a\n"
    )
    state = NodeState(remaining_ms=100.0)
    assert compiled.decide("f", state).option == "a"  # 'not' of a false comparison holds
    state.input = {"width": 11.0}
    assert compiled.decide("f", state).option == "b"


def test_compiled_decision_allocates_nothing_after_warm_up(design_example):
    compiled = hint_dsl.compile(
        design_example.replace(
            "  when remaining >= 1800ms",
            "  when not (input.width >= 1000 or stats.resize.p95 > 3ms) use small\n"
            "  when upstream.classify.duration > elapsed use medium\n"
            "  when remaining >= 1800ms",
        )
    )
    rng = random.Random(3)
    states = []
    for _ in range(64):
        s = random_state(rng)
        s.input_bytes = rng.choice([0, 5 * 1024**2])
        s.upstream = {"classify": float(rng.choice([0, 2000]))}
        s.stats = {"resize": {"p95": float(rng.choice([1, 5]))}}
        states.append(s)
    taken = {compiled.decide(fn, s).index for s in states for fn in ("resize",)}
    assert len(taken) >= 4  # the states exercise several rules
    decide = compiled.decide
    cycle = itertools.cycle(states)
    calls = itertools.repeat("resize", 20_000)
    for _ in range(1000):
        decide("resize", next(cycle))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        for fn in calls:
            decide(fn, next(cycle))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before == 0
