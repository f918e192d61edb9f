"""The admin console in a real headless Chromium against a running platform (real
containers): deploy and invoke actions, deploy a two-node workflow with hints and run it under
late and early binding, then log in and walk every page, checking the real data shown, and
save a screenshot of each page (to ``docs/screenshots/`` with TANGO_UPDATE_SCREENSHOTS=1, else
to a temporary folder, so a test run leaves the tree as it was). A second case deploys a real VLM
runtime (kind ``vlm``, tiny preset on the CPU), invokes it concurrently while the GPU runtimes
page is open, and checks the live numbers it shows.

Uses Debian's ``/usr/bin/chromium`` through the Python ``playwright`` package (no browser
download). Skipped when Chromium or Playwright is missing, except with CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from common.platform_process import GUEST_KEY, REPO
from controller.config import SYSTEM_KEY
from tests.conftest import require
from tests.e2e.test_vlm_runtime_e2e import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("TANGO_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "tango-console-screenshots"
)

RESIZE = """\
def main(args):
    n = int(args.get("n", 300000))
    total = sum(i * i for i in range(n))
    print("resized", n)
    return {"n": n, "checksum": total % 1000003}
"""
CLASSIFY = """\
def main(args):
    print("classifying", args.get("n"))
    return {"label": "cat" if args.get("checksum", 0) % 2 else "dog", "n": args.get("n")}
"""
HELLO = """\
def main(args):
    print("hello", args.get("name", "World"))
    if args.get("fail"):
        return {"error": "asked to fail"}
    return {"greeting": "Hello " + args.get("name", "World")}
"""
WORKFLOW = """\
name: thumbs
description: resize a photo, then classify it
slo: {latency: 4000ms, percentile: 95}
nodes:
  - {id: resize, action: resize}
  - {id: classify, action: classify, after: [resize]}
"""
HINTS = """\
workflow thumbs slo 4000ms p95

option small  cpu 0.5 memory 256MB
option large  cpu 1   memory 512MB

function resize
  when remaining < 1500ms use large
  otherwise               use small

function classify
  when upstream.resize.duration > 2000ms use large
  otherwise                              use small
"""


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require(sync_playwright is not None, "the Python playwright package")
    require(os.path.exists(CHROMIUM), f"Chromium at {CHROMIUM}")
    return sync_playwright


@pytest.fixture(scope="module")
def deployed(platform, tmp_path_factory):
    """Actions invoked (cold, warm, failed) and a workflow run under late and early binding."""
    tmp = tmp_path_factory.mktemp("console")
    for name, code in (("hello", HELLO), ("resize", RESIZE), ("classify", CLASSIFY)):
        (tmp / f"{name}.py").write_text(code)
        platform.tango("action", "create", name, str(tmp / f"{name}.py"), "--kind", "python:3")
    ids = [
        platform.tango_json("action", "invoke", "hello", "-b", "-p", "name", n)["activationId"]
        for n in ("Ada", "Grace")
    ]
    failed = platform.api(
        "POST", "/api/v1/namespaces/_/actions/hello?blocking=true", json={"fail": True}
    ).json()
    (tmp / "thumbs.yaml").write_text(WORKFLOW)
    (tmp / "thumbs.hints").write_text(HINTS)
    platform.tango("workflow", "create", "thumbs", str(tmp / "thumbs.yaml"))
    platform.tango("hints", "set", "thumbs", str(tmp / "thumbs.hints"))
    runs = []
    for policy in ("early-max", "late", "early-max", "late"):
        r = platform.api(
            "POST",
            f"/api/v1/namespaces/_/workflows/thumbs?blocking=true&policy={policy}",
            json={"n": 200000},
        )
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
        runs.append(r.json())
    return {"activations": ids, "failed": failed["activationId"], "runs": runs}


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _playwright()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, platform):
    ctx = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=platform.apihost)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the console pages: {errors}"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def login(page, key: str = GUEST_KEY) -> None:
    page.goto("/console/")
    assert "/console/login" in page.url
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))


def test_login_refuses_a_bad_key(page):
    page.goto("/console/login")
    page.fill("#key", "00000000-0000-0000-0000-000000000000:nope")
    page.click("button[type=submit]")
    assert "This key is not valid" in page.inner_text("p.error")
    shot(page, "login")


def test_walk_every_page_with_real_data(page, platform, deployed):
    login(page)

    # Overview: the invoker and its real containers, rates and cold/warm starts.
    assert "invoker0" in page.inner_text("#live-overview")
    assert page.locator("table.containers tbody tr").count() >= 1
    assert re.search(
        r"guest/(hello|resize|classify)\s+\S+\s+[\d.]+\s+\d+ MB",
        page.inner_text("table.containers"),
    )
    starts = [int(x) for x in page.inner_text("#cold-warm").split("/")]
    assert len(starts) == 3 and starts[0] + starts[1] >= 1 and sum(starts) >= 3
    assert page.locator("#rate-chart polyline").count() == 2
    assert float(page.inner_text("#error-rate").rstrip(" %")) > 0
    shot(page, "overview")

    # Actions: list and search.
    page.click("nav >> text=Actions")
    assert {"hello", "resize", "classify"} <= set(
        page.locator("#actions tbody td:first-child").all_inner_texts()
    )
    page.fill("input[name=q]", "res")
    page.click(".filters button")
    assert page.locator("#actions tbody td:first-child").all_inner_texts() == ["resize"]
    shot(page, "actions")

    # Invoke from the form; the activation page shows the record with size and usage.
    page.goto("/console/actions/hello")
    page.fill("#params", json.dumps({"name": "Browser"}))
    page.click("#invoke-form button")
    page.wait_for_url(re.compile(r".*/console/activations/[0-9a-f]{32}$"))
    aid = page.url.rsplit("/", 1)[1]
    assert page.inner_text("#activation-id") == aid
    assert "Hello Browser" in page.inner_text("#result")
    assert "hello Browser" in page.inner_text("#logs")
    assert re.search(r"\d+ ms", page.inner_text("#wait-time"))
    assert re.search(r"cpu / \d+ MB", page.inner_text("#size"))
    assert "ms CPU time" in page.inner_text("#cpu-used") and "MB peak" in page.inner_text(
        "#mem-used"
    )
    shot(page, "activation")

    # Activations: every real id listed; filtering by outcome; a new one appears without reload.
    page.click("nav >> text=Activations")
    listed = page.inner_text("#live-activations")
    assert all(i in listed for i in deployed["activations"] + [aid, deployed["failed"]])
    page.select_option("select[name=status]", "error")
    page.click(".filters button")
    listed = page.inner_text("#live-activations")
    assert deployed["failed"] in listed and aid not in listed
    page.goto("/console/activations")
    new = platform.tango_json("action", "invoke", "hello", "-b", "-p", "name", "Live")[
        "activationId"
    ]
    page.wait_for_selector(f"[data-activation='{new}']", timeout=15000)
    shot(page, "activations")

    # Workflows: the DAG with its node names, runs with timelines, SLO attainment.
    page.click("nav >> text=Workflows")
    page.click("#workflows >> text=thumbs")
    assert sorted(
        page.locator("#dag g.node").evaluate_all("els => els.map(e => e.dataset.node)")
    ) == ["classify", "resize"]
    runs = page.inner_text("#live-runs")
    assert all(r["runId"][:12] in runs for r in deployed["runs"])
    assert page.locator("#live-runs svg rect.bar").count() == 2 * len(deployed["runs"])
    assert "ms left" in page.inner_html("#live-runs")
    slo = page.inner_text("#slo")
    assert "late" in slo and "early-max" in slo
    shot(page, "workflow")

    # One run: each node's start, end, chosen size and remaining budget.
    late = next(r for r in deployed["runs"] if r["policy"] == "late")
    page.click(f"a[href$='{late['runId']}']")
    nodes = page.inner_text("#nodes")
    for n in late["nodes"]:
        assert n["id"] in nodes and n["size"]["option"] in nodes
    shot(page, "run")

    # Hints: an error shown at its line, then profiling with progress, then synthesis and diff.
    page.goto("/console/workflows/thumbs/hints")
    assert "function resize" in page.input_value("#hints-text")
    page.fill("#hints-text", HINTS.replace("use large", "use huge", 1))
    page.wait_for_selector("#check-state.error", timeout=10000)
    assert "line 7" in page.inner_text("#check-state")
    page.click("button[value=save]")
    assert page.locator("#hint-lines li.has-error").count() == 1
    assert "line 7" in page.inner_text("#hint-lines .diag.error") and "huge" in page.inner_text(
        "#hint-lines"
    )
    shot(page, "hints-error")
    page.goto("/console/workflows/thumbs/hints")
    page.fill("#inputs", '{"n": 100000}\n{"n": 300000}')
    page.fill("input[name=repeats]", "1")
    page.click("#profile-form button")
    page.wait_for_selector("#profile-job[data-state=done]", timeout=120000)
    assert "resize" in page.inner_text("#profiles") and "small" in page.inner_text("#profiles")
    page.click("#synth-form button")
    assert page.locator("#hint-diff").count() == 1 or "same as the active" in page.inner_text(
        "main"
    )
    shot(page, "hints-synthesis")

    # Savings: core-seconds per run, late against both early-binding baselines (early-static
    # sizes from the profiles just taken).
    for _ in range(2):
        r = platform.api(
            "POST",
            "/api/v1/namespaces/_/workflows/thumbs?blocking=true&policy=early-static",
            json={"n": 200000},
        )
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
    # The session's platform holds other modules' workflows too: name this one (the page
    # otherwise shows the namespace's first workflow).
    page.goto("/console/savings?workflow=thumbs")
    series = page.locator("#savings-line polyline").evaluate_all(
        "els => els.map(e => e.dataset.series)"
    )
    assert set(series) == {"late", "early-max", "early-static"}
    table = page.inner_text("#savings-table")
    assert "late" in table and "early-max" in table
    late_row = page.locator("#savings-table tr", has_text="late").locator("td")
    cells = [late_row.nth(i).inner_text() for i in (3, 4)]
    assert all(re.fullmatch(r"[\d.]+ % less|[\d.]+× as much", c) for c in cells), cells
    shot(page, "savings")

    # GPU runtimes: no VLM action in this namespace, so the page says so (the real runtime is
    # the next test's, in a namespace of its own).
    page.click("nav >> text=GPU runtimes")
    assert "No VLM runtime deployed" in page.inner_text("#live-gpu")

    page.click("text=Log out")
    page.wait_for_url(re.compile(r".*/console/login$"))


def test_admin_sees_other_namespaces_and_guest_does_not(page, deployed):
    login(page, SYSTEM_KEY)
    assert "admin" in page.inner_text("header")
    with page.expect_navigation():
        page.select_option("#ns-select", "guest")
    page.goto("/console/actions")
    assert "hello" in page.inner_text("#actions")
    page.goto("/console/")
    assert re.search(r"guest/(hello|resize|classify)", page.inner_text("#live-overview"))


NOVA_TINY = {"preset": "tiny", "policy": "nova", "max_batch": 4}
VLM_STAGES = ("vision", "prefill", "decode")
STAGE_METRICS = ("vision_ms", "prefill_ms", "ttft_ms", "tpot_ms", "total_ms")
MAX_TOKENS = 32  # long enough decodes that the page's polls often find stages co-running


@pytest.fixture(scope="module")
def vlm(platform, tmp_path_factory):
    """A kind-``vlm`` action (tiny preset, random weights, CPU) in a namespace of its own, its
    runtime started by one blocking invoke."""
    subprocess.run(
        ["bash", str(REPO / "docker" / "build-images.sh"), "vlm"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    ns = platform.in_new_namespace("gpu")
    config = tmp_path_factory.mktemp("vlm") / "nova.json"
    config.write_text(json.dumps(NOVA_TINY))
    ns.tango(
        "action",
        "create",
        "agent",
        str(config),
        "--kind",
        "vlm",
        "--memory",
        "512",
        "--concurrency",
        "8",
        "--timeout",
        "120000",
    )
    r = invoke_agent(ns, "open the settings")
    assert r.status_code == 200 and len(r.json()["token_ids"]) == MAX_TOKENS, r.text
    return ns


def invoke_agent(ns, prompt: str):
    body = {"image": screenshot(448, 280), "prompt": prompt, "max_tokens": MAX_TOKENS}
    return ns.api("POST", "/api/v1/namespaces/_/actions/agent?blocking=true&result=true", json=body)


def keep_busy(ns, stop: threading.Event, replies: list, limit_s: float = 240) -> None:
    """Rounds of 4 concurrent invokes until ``stop`` (while the runtime works, the invoker does
    not pause it, so the page's polls reach its /metrics)."""
    deadline = time.monotonic() + limit_s
    with ThreadPoolExecutor(4) as pool:
        round_ = 0
        while not stop.is_set() and time.monotonic() < deadline:
            replies.extend(
                pool.map(lambda i, r=round_: invoke_agent(ns, f"round {r} step {i}"), range(4))
            )
            round_ += 1


def runtime_numbers(page) -> dict:
    """What the runtime card and the latency table show, read from the page."""
    card = page.locator("#live-gpu section.runtime").first
    return {
        "policy": card.locator(".policy").inner_text(),
        "completed": int(card.locator(".completed").inner_text()),
        "split": {
            r.get_attribute("data-stage"): r.locator("td").nth(1).inner_text()
            for r in card.locator("table.split tbody tr").all()
        },
        "queues": {
            r.get_attribute("data-queue"): int(r.locator("td").nth(1).inner_text())
            for r in card.locator("table.queues tbody tr").all()
        },
        "latency": {
            r.get_attribute("data-metric"): [td.inner_text() for td in r.locator("td").all()]
            for r in page.locator("#vlm-latency tbody tr").all()
        },
        "points": card.locator("svg circle").count(),
    }


def test_gpu_page_shows_a_real_vlm_runtime_live(page, vlm):
    login(page, vlm.auth)
    page.click("nav >> text=GPU runtimes")
    page.wait_for_selector("#live-gpu section.runtime", timeout=15000)
    stop, replies = threading.Event(), []
    worker = threading.Thread(target=keep_busy, args=(vlm, stop, replies), daemon=True)
    worker.start()
    try:
        # The page refreshes itself: wait (no reload) until it has seen the runtime work for a
        # few polls (3 stages x 8 points of the partition-share chart) and shows a split.
        try:
            page.wait_for_function(
                """() => { const c = document.querySelector('#live-gpu section.runtime .completed');
                           const pts = document.querySelectorAll('#live-gpu section.runtime svg circle').length;
                           return c && parseInt(c.textContent) >= 5 && pts >= 24
                                  && document.querySelector('#live-gpu table.split'); }""",
                timeout=120000,
            )
        except Exception as exc:
            raise AssertionError(
                f"the GPU page never showed the runtime at work; it shows:\n"
                f"{page.inner_text('#live-gpu')}"
            ) from exc
        seen = runtime_numbers(page)
        shot(page, "gpu")
    finally:
        stop.set()
        worker.join(timeout=300)
    assert replies and all(r.status_code == 200 for r in replies), [
        r.text for r in replies if r.status_code != 200
    ]

    assert seen["policy"] == "nova" and seen["completed"] >= 5
    assert set(seen["split"]) == set(VLM_STAGES) and all(
        re.fullmatch(r"\d+", v) for v in seen["split"].values()
    )
    assert {"waiting", "ready", "in_vision", "in_prefill", "decoding"} <= set(seen["queues"])
    assert set(STAGE_METRICS) <= set(seen["latency"])
    for metric in STAGE_METRICS:
        policy, container, _, count, mean, p50, p90, p99 = seen["latency"][metric]
        assert (
            policy == "nova"
            and container.startswith("tango_")
            and container.endswith("agent")
            and int(count) >= 1
        )
        assert all(re.fullmatch(r"[\d.]+ ms", v) for v in (mean, p50, p90, p99))
    assert seen["points"] >= 24
    assert page.locator("#live-gpu section.runtime svg polyline.series").evaluate_all(
        "els => els.map(e => e.dataset.series).sort()"
    ) == sorted(VLM_STAGES)

    # Once idle the invoker pauses the container; the page then keeps its last metrics, marked.
    page.wait_for_selector("#live-gpu section.runtime[data-stale=yes]", timeout=60000)
    assert (
        "Last metrics, from" in page.inner_text("#live-gpu")
        and runtime_numbers(page)["completed"] >= 5
    )
