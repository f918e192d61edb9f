"""The console's routes: server-rendered pages under ``/console`` and the JSON endpoints their
scripts poll every two seconds (``/console/api/...``).

Each live page has one context builder (``*_context``); the page renders it whole, and its
JSON endpoint returns the same data with the page's live sections re-rendered as HTML
fragments (``{"data": ..., "fragments": {element id: html}}``), so one template decides how a
section looks. Store and invoker access go through the controller's services and
``controller.console.sources``; numbers come from ``controller.console.insights``; drawings from
``controller.console.charts``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from common.clock import now_ms
from controller.api.common import services
from controller.console import charts, insights
from controller.console import session as auth
from controller.console.sources import invoker_pools
from controller.errors import ApiError
from hint_dsl import check as check_hints

log = logging.getLogger("tango.console")

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

OVERVIEW_WINDOW_S = 60
RATE_BUCKET_S = 5
ACTIVATION_PAGE = 50
RUNS_SHOWN = 10
PUBLIC_ENDPOINTS = ("console.login", "console.static", "console.not_found")


def is_api() -> bool:
    return request.path.startswith("/console/api/")


# -- request guards and errors -----------------------------------------------------------------


@bp.before_request
def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if auth.current_identity() is None:
        if is_api():
            return jsonify({"error": "Your console session has ended; log in again."}), 401
        return redirect(url_for("console.login", next=request.full_path))
    if request.method == "POST":
        auth.check_csrf()
    return None


@bp.app_context_processor
def _template_globals():
    if not request.blueprint == "console":
        return {}
    ident = g.get("identity")
    return {
        "identity": ident,
        "namespace": auth.current_namespace() if ident else None,
        "csrf_token": auth.csrf_token,
        "fmt_time": fmt_time,
        "fmt_ms": fmt_ms,
        "fmt_size": fmt_size,
        "profile_eta": lambda job: insights.profile_eta(job, now_ms()),
        "namespaces": [s.namespace for s in services().subjects.list()]
        if ident and ident.admin
        else [],
    }


@bp.errorhandler(ApiError)
def _api_error(err: ApiError):
    return _error(err.status, err.message)


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    return _error(err.code or 500, err.description or err.name)


@bp.errorhandler(Exception)
def _unexpected(err: Exception):
    log.exception("console error on %s %s", request.method, request.path)
    return _error(
        500,
        f"Something went wrong while building this page ({type(err).__name__}). "
        f"The controller log has the details (transaction {g.get('tid', '')}).",
    )


def _error(status: int, message: str):
    if is_api():
        return jsonify({"error": message}), status
    return render_template("console/error.html", status=status, message=message), status


@bp.route("/<path:rest>")
def not_found(rest: str):
    where = (
        "the menu above" if auth.current_identity() else "the Overview link below, after logging in"
    )
    raise ApiError(404, f"There is no console page at /console/{rest}. Find pages through {where}.")


def _favicon():
    return bp.send_static_file("favicon.ico")


# Browsers ask the site's root for its icon: serve the console's instead of a 404.
bp.record_once(lambda state: state.app.add_url_rule("/favicon.ico", "favicon", _favicon))


# -- formatting helpers for templates ------------------------------------------------------------


def fmt_time(ms) -> str:
    if not ms:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + f".{int(ms) % 1000:03d}"


def fmt_ms(v) -> str:
    if v is None:
        return "—"
    return f"{v:.1f} ms" if isinstance(v, float) and v < 10 else f"{v:.0f} ms"


def fmt_size(size) -> str:
    if not size:
        return "default"
    opt = f"{size['option']}: " if size.get("option") else ""
    return f"{opt}{size.get('cpu')} cpu / {size.get('memory')} MB"


def fragments(context: dict, parts: dict[str, str]):
    """The JSON a live section polls: ``context["data"]`` and each part re-rendered for the
    element id it replaces."""
    return jsonify(
        {
            "data": context.get("data"),
            "fragments": {
                el: render_template(f"console/parts/{p}.html", **context) for el, p in parts.items()
            },
        }
    )


def live(template: str, context: dict, parts: dict[str, str]):
    """A page, or — for its ``/api`` twin — the same context's live parts as fragments."""
    if is_api():
        return fragments(context, parts)
    return render_template(f"console/{template}.html", **context)


# -- login -------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            auth.log_in(request.form.get("key", ""))
            target = request.args.get("next") or ""
            return redirect(
                target if target.startswith("/console") else url_for("console.overview")
            )
        except auth.LoginError as exc:
            error = str(exc)
    return render_template("console/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    auth.log_out()
    return redirect(url_for("console.login"))


@bp.post("/namespace")
def namespace():
    auth.choose_namespace(request.form.get("ns", ""))
    back = request.referrer or ""
    return redirect(back if "/console" in back else url_for("console.overview"))


# -- overview ----------------------------------------------------------------------------------


def overview_context() -> dict:
    svc, ident, ns = services(), g.identity, auth.current_namespace()
    invokers = insights.visible_invokers(invoker_pools(svc), ns, ident.admin)
    now = now_ms()
    records = svc.activations.list(ns, limit=2000, since=now - OVERVIEW_WINDOW_S * 1000)
    stats = insights.activation_stats(records, now, OVERVIEW_WINDOW_S)
    rate = charts.line_chart_svg(
        insights.rate_series(records, now, OVERVIEW_WINDOW_S, RATE_BUCKET_S),
        "per second",
        height=180,
    )
    data = {
        "invokers": invokers,
        "containers": insights.containers_by_state(invokers),
        "activations": stats,
    }
    return {"data": data, **data, "stats": stats, "rate_svg": rate}


@bp.get("/")
@bp.get("/api/overview", endpoint="api_overview")
def overview():
    return live("overview", overview_context(), {"live-overview": "overview"})


# -- actions and activations ----------------------------------------------------------------


def _actions(ns: str) -> list[dict]:
    return services().entities.list(ns, "actions", package=None, limit=0)


@bp.get("/actions")
def actions():
    ns = auth.current_namespace()
    q, kind = request.args.get("q", ""), request.args.get("kind", "")
    all_actions = _actions(ns)
    shown = insights.filter_actions(all_actions, q, kind)
    kinds = sorted({(a.get("exec") or {}).get("kind", "") for a in all_actions})
    return render_template(
        "console/actions.html",
        actions=shown,
        total=len(all_actions),
        q=q,
        kind=kind,
        kinds=kinds,
        path_of=insights.action_path,
    )


@bp.get("/actions/<path:name>")
def action(name: str):
    ns = auth.current_namespace()
    doc = services().entities.get(ns, "actions", name)
    recent = [
        insights.activation_row(r) for r in services().activations.list(ns, name=name, limit=10)
    ]
    return render_template(
        "console/action.html",
        action=doc,
        path=name,
        recent=recent,
        params=request.args.get("params", "{}"),
        error=None,
    )


@bp.post("/actions/<path:name>/invoke")
def invoke(name: str):
    ns, svc = auth.current_namespace(), services()
    text = request.form.get("params", "").strip() or "{}"
    try:
        params = json.loads(text)
        if not isinstance(params, dict):
            raise ValueError(
                f'expected a JSON object like {{"name": "World"}}, got {type(params).__name__}'
            )
    except ValueError as exc:
        doc = svc.entities.get(ns, "actions", name)
        return render_template(
            "console/action.html",
            action=doc,
            path=name,
            recent=[],
            params=text,
            error=f"The parameters are not a JSON object: {exc}",
        ), 400
    outcome = svc.activation_service.invoke(
        g.identity, ns, name, params, blocking=True, wait_ms=None
    )
    return redirect(url_for("console.activation", activation_id=outcome.activation_id))


def activations_context() -> dict:
    ns = auth.current_namespace()
    q, status, name = (
        request.args.get("q", ""),
        request.args.get("status", ""),
        request.args.get("name", ""),
    )
    records = services().activations.list(ns, name=name or None, limit=500)
    rows = insights.filter_activations([insights.activation_row(r) for r in records], q, status)
    data = {"activations": rows[:ACTIVATION_PAGE], "matching": len(rows)}
    return {
        "data": data,
        "rows": rows[:ACTIVATION_PAGE],
        "matching": len(rows),
        "q": q,
        "status": status,
        "name": name,
        "poll_query": request.query_string.decode(),
    }


@bp.get("/activations")
@bp.get("/api/activations", endpoint="api_activations")
def activations():
    return live("activations", activations_context(), {"live-activations": "activations"})


@bp.get("/activations/<activation_id>")
def activation(activation_id: str):
    doc = services().activations.get(auth.current_namespace(), activation_id)
    if doc is None:
        raise ApiError(
            404,
            f"No activation {activation_id} in namespace {auth.current_namespace()} "
            "(it may belong to another namespace or have been removed).",
        )
    return render_template(
        "console/activation.html", a=insights.activation_row(doc), record=json.dumps(doc, indent=2)
    )


# -- workflows -------------------------------------------------------------------------------


@bp.get("/workflows")
def workflows():
    ns = auth.current_namespace()
    return render_template(
        "console/workflows.html", workflows=services().workflows.list(ns, 200, 0)
    )


def _workflow_doc(ns: str, name: str) -> dict:
    try:
        return services().workflows.get(ns, name)
    except ApiError as exc:
        if exc.status == 404:
            raise ApiError(
                404, f"No workflow '{name}' in namespace {ns}; the Workflows page lists them."
            ) from None
        raise


def workflow_context(name: str) -> dict:
    ns, wfs = auth.current_namespace(), services().workflows
    doc = _workflow_doc(ns, name)
    runs = wfs.list_runs(ns, name, RUNS_SHOWN, 0)
    timelines = []
    for r in runs:
        try:
            full = wfs.get_run(ns, r["runId"])
        except ApiError:
            continue
        tl = insights.run_timeline(full)
        timelines.append({"run": r, "svg": charts.timeline_svg(tl), "timeline": tl})
    slo = insights.slo_summary(wfs.report(ns, name))
    latest = runs[0] if runs else None
    status = (
        {n["id"]: n["status"] for n in (wfs.get_run(ns, latest["runId"]).get("nodes") or [])}
        if latest
        else None
    )
    data = {"runs": runs, "slo": slo}
    return {
        "data": data,
        "wf": doc,
        "dag": charts.dag_svg(doc["workflow"]),
        "runs": runs,
        "timelines": timelines,
        "slo": slo,
        "latest_dag": charts.dag_svg(doc["workflow"], status) if status else None,
    }


@bp.get("/workflows/<name>")
@bp.get("/api/workflows/<name>", endpoint="api_workflow")
def workflow(name: str):
    return live("workflow", workflow_context(name), {"live-runs": "runs", "live-slo": "slo"})


@bp.post("/workflows/<name>/run")
def run_workflow(name: str):
    ns = auth.current_namespace()
    try:
        params = json.loads(request.form.get("input", "").strip() or "{}")
    except ValueError as exc:
        raise ApiError(400, f"The workflow input is not valid JSON: {exc}") from None
    services().workflows.run(
        g.identity, ns, name, params, request.form.get("policy", "late"), blocking=False, wait_s=0
    )
    return redirect(url_for("console.workflow", name=name))


@bp.get("/workflows/<name>/runs/<run_id>")
def run(name: str, run_id: str):
    ns, wfs = auth.current_namespace(), services().workflows
    doc = _workflow_doc(ns, name)
    r = wfs.get_run(ns, run_id)
    tl = insights.run_timeline(r)
    return render_template(
        "console/run.html",
        wf=doc,
        r=r,
        timeline=tl,
        svg=charts.timeline_svg(tl),
        dag=charts.dag_svg(doc["workflow"], {n["id"]: n["status"] for n in r.get("nodes") or []}),
    )


# -- hints -----------------------------------------------------------------------------------


def _active_hints(ns: str, name: str) -> str | None:
    try:
        return services().workflows.get_hints(ns, name)["hints"]
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _diagnose(ns: str, name: str, text: str) -> list[dict]:
    wf, _ = services().workflows.workflow(ns, name)
    return [d.to_json() for d in check_hints(text, wf.node_ids, filename=f"{name}.hints")]


def hints_page(
    name: str,
    text: str | None = None,
    diagnostics: list[dict] | None = None,
    message: str | None = None,
    status: int = 200,
    synthesized: dict | None = None,
):
    ns = auth.current_namespace()
    doc = _workflow_doc(ns, name)
    active = _active_hints(ns, name)
    text = text if text is not None else (active or "")
    if diagnostics is None:
        diagnostics = _diagnose(ns, name, text) if text.strip() else []
    return render_template(
        "console/hints.html",
        wf=doc,
        text=text,
        active=active,
        message=message,
        message_error=status >= 400,
        lines=insights.lines_with_diagnostics(text, diagnostics),
        diagnostics=diagnostics,
        errors=[d for d in diagnostics if d["severity"] == "error"],
        synthesized=synthesized,
        diff=insights.hint_diff(active or "", synthesized["hints"]) if synthesized else None,
        profile=services().workflows.profile_status(ns, name),
    ), status


@bp.get("/workflows/<name>/hints")
def hints(name: str):
    return hints_page(name)


@bp.post("/workflows/<name>/hints")
def save_hints(name: str):
    ns, text = auth.current_namespace(), request.form.get("hints", "").replace("\r\n", "\n")
    diagnostics = _diagnose(ns, name, text)
    if request.form.get("action") == "check" or any(d["severity"] == "error" for d in diagnostics):
        n = sum(1 for d in diagnostics if d["severity"] == "error")
        msg = f"{n} error(s): not saved." if n else "No errors."
        return hints_page(name, text, diagnostics, msg, 400 if n else 200)
    services().workflows.set_hints(ns, name, text)
    return hints_page(name, None, None, "Hints saved; new runs use them.")


@bp.post("/api/workflows/<name>/hints/check")
def api_check_hints(name: str):
    body = request.get_json(silent=True) or {}
    text = body.get("hints")
    if not isinstance(text, str):
        raise ApiError(400, 'Send {"hints": "<hint text>"}.')
    return jsonify({"diagnostics": _diagnose(auth.current_namespace(), name, text)})


@bp.post("/workflows/<name>/synthesize")
def synthesize(name: str):
    ns = auth.current_namespace()
    pct = request.form.get("percentile", "").strip()
    try:
        percentile = float(pct) if pct else None
    except ValueError:
        raise ApiError(400, f"The percentile must be a number such as 99, got '{pct}'.") from None
    result = services().workflows.synthesize(ns, name, percentile)
    return hints_page(
        name, synthesized=result, message="Synthesized hints below; compare, then adopt or discard."
    )


@bp.post("/workflows/<name>/profile")
def profile(name: str):
    ns = auth.current_namespace()
    inputs, errors = insights.parse_jsonl(request.form.get("inputs", ""))
    if errors:
        return hints_page(name, message="Profiling not started: " + "; ".join(errors), status=400)
    body: dict[str, Any] = {"inputs": inputs, "repeats": request.form.get("repeats") or 3}
    options = [o.strip() for o in request.form.get("options", "").split(",") if o.strip()]
    if options:
        body["options"] = options
    try:
        body["repeats"] = int(body["repeats"])
    except ValueError:
        return hints_page(
            name, message="Profiling not started: repeats must be a whole number.", status=400
        )
    services().workflows.start_profile(g.identity, ns, name, body)
    return redirect(url_for("console.hints", name=name) + "#profiling")


@bp.get("/api/workflows/<name>/profile")
def api_profile(name: str):
    st = services().workflows.profile_status(auth.current_namespace(), name)
    return fragments({"data": st, "profile": st}, {"live-profile": "profile"})


# -- savings ---------------------------------------------------------------------------------


def savings_context() -> dict:
    ns, wfs = auth.current_namespace(), services().workflows
    names = [w["name"] for w in wfs.list(ns, 200, 0)]
    name = request.args.get("workflow") or (names[0] if names else "")
    if name and name not in names:
        raise ApiError(
            404, f"No workflow '{name}' in namespace {ns}; known: {', '.join(names) or 'none'}."
        )
    result = (
        insights.savings(wfs.list_runs(ns, name, 500, 0))
        if name
        else {"series": {}, "policies": [], "baselines": []}
    )
    colours = charts.colours_for(result["series"])
    line = charts.line_chart_svg(
        result["series"], "core-seconds per run", dashed=insights.BASELINE_POLICIES, colours=colours
    )
    bars = charts.bar_chart_svg(
        [(p["policy"], p["meanCoreSeconds"]) for p in result["policies"]], "core-s", colours=colours
    )
    prediction = simulated(ns, name) if name and request.args.get("predict") else None
    return {
        "data": {
            "workflow": name,
            "policies": result["policies"],
            "baselines": result["baselines"],
            "prediction": prediction,
        },
        "names": names,
        "name": name,
        "result": result,
        "line": line,
        "bars": bars,
        "prediction": prediction,
    }


_PREDICTIONS: dict = {}  # (namespace, workflow, version, hints, profiles) -> prediction


def simulated(ns: str, name: str) -> dict | None:
    """The simulator's prediction per policy (`janus_sim.whatif.predict`: 1 request/s over the
    profiled inputs, on the CPU the profiles were taken with), beside the measured figures;
    None without profiles. Cached per workflow version, hints and profiles: the page polls."""
    from hint_dsl.profiles import Profiles
    from janus_sim.whatif import predict

    wf, row = services().workflows.workflow(ns, name)
    if not row.profiles:
        return None
    key = (ns, name, row.version, row.hints_updated, len(row.profiles.get("samples", [])))
    if key not in _PREDICTIONS:
        profiles = Profiles.from_json(row.profiles)
        try:
            _PREDICTIONS[key] = predict(
                wf,
                profiles,
                row.hints or None,
                cores=profiles.capacity_cores or 2.0,
                requests=300,
            )
        except ValueError as exc:
            _PREDICTIONS[key] = {"error": str(exc), "policies": {}}
    return _PREDICTIONS[key]


@bp.get("/savings")
@bp.get("/api/savings", endpoint="api_savings")
def savings():
    return live("savings", savings_context(), {"live-savings": "savings"})


# -- GPU runtimes ----------------------------------------------------------------------------


def gpu_context() -> dict:
    svc, ident, ns = services(), g.identity, auth.current_namespace()
    vlm = [a for a in _actions(ns) if (a.get("exec") or {}).get("kind") == insights.VLM_KIND]
    paths = {f"{ns}/{insights.action_path(a)}" for a in vlm}
    runtimes = current_app.extensions["tango_console"].collect(
        paths, insights.visible_invokers(invoker_pools(svc), ns, ident.admin)
    )
    for rt in runtimes:
        series: dict[str, list] = {}
        for p in rt["history"]:
            for stage, share in p["shares"].items():
                series.setdefault(stage, []).append((p["t"], share * 100))
        rt["shares_svg"] = charts.line_chart_svg(series, "SM share %", y_max=100, height=300)
        rt["split"] = insights.current_split(rt["metrics"]) if rt["metrics"] else []
    data = {
        "actions": [insights.action_path(a) for a in vlm],
        "runtimes": [{k: v for k, v in rt.items() if k != "shares_svg"} for rt in runtimes],
    }
    return {
        "data": data,
        "vlm_actions": data["actions"],
        "runtimes": runtimes,
        "latency": insights.latency_rows(runtimes),
    }


@bp.get("/gpu")
@bp.get("/api/gpu", endpoint="api_gpu")
def gpu():
    return live("gpu", gpu_context(), {"live-gpu": "gpu"})
