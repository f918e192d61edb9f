"""Inline SVG drawn on the server for the console: a workflow's DAG, a run's timeline, line
charts (savings over time, GPU partition shares) and bar charts.

Pure functions from data to escaped SVG markup (``markupsafe.Markup``), so pages need no
front-end chart library and the drawings are tested as text. Called by the console views.
"""

from __future__ import annotations

import math
import time

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
STATUS_COLOURS = {
    "success": "#16a34a",
    "failed": "#dc2626",
    "running": "#2563eb",
    "skipped": "#9ca3af",
}


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def colours_for(names) -> dict[str, str]:
    """One colour per name, by sorted name, so a policy has the same colour in every chart."""
    return {n: colour(i) for i, n in enumerate(sorted(set(names)))}


def _svg(width: float, height: float, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(label)}" '
        f'class="chart">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, s, anchor: str = "start", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}>{escape(str(s))}</text>'


def _empty(label: str, message: str, width: int = 480, height: int = 60) -> Markup:
    return _svg(width, height, [_text(width / 2, height / 2, message, "middle", "muted")], label)


# -- DAG -------------------------------------------------------------------------------------


def dag_layers(nodes: list[dict]) -> list[list[str]]:
    """Node ids grouped by depth (longest path from a source), in definition order."""
    depth: dict[str, int] = {}
    by_id = {n["id"]: n for n in nodes}

    def d(nid: str) -> int:
        if nid not in depth:
            depth[nid] = 1 + max(
                (d(p) for p in by_id[nid].get("after") or [] if p in by_id), default=-1
            )
        return depth[nid]

    layers: list[list[str]] = []
    for n in nodes:
        k = d(n["id"])
        while len(layers) <= k:
            layers.append([])
        layers[k].append(n["id"])
    return layers


def dag_svg(workflow: dict, status: dict[str, str] | None = None) -> Markup:
    """The workflow's nodes left to right by depth, edges as arrows; ``status`` colours nodes
    by a run's node status. ``workflow`` is ``Workflow.to_json()``."""
    nodes = workflow.get("nodes") or []
    if not nodes:
        return _empty("workflow DAG", "no nodes")
    layers = dag_layers(nodes)
    box_w, box_h, gap_x, gap_y, pad = 170, 46, 60, 22, 14
    tallest = max(len(layer) for layer in layers)
    width = pad * 2 + len(layers) * box_w + (len(layers) - 1) * gap_x
    height = pad * 2 + tallest * box_h + (tallest - 1) * gap_y
    pos: dict[str, tuple[float, float]] = {}
    for i, layer in enumerate(layers):
        offset = (height - (len(layer) * box_h + (len(layer) - 1) * gap_y)) / 2
        for j, nid in enumerate(layer):
            pos[nid] = (pad + i * (box_w + gap_x), offset + j * (box_h + gap_y))
    body = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/>'
        "</marker></defs>"
    ]
    for n in nodes:
        x2, y2 = pos[n["id"]]
        for p in n.get("after") or []:
            if p not in pos:
                continue
            x1, y1 = pos[p]
            sx, sy, ex, ey = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
            mx = (sx + ex) / 2
            body.append(
                f'<path class="edge" d="M{sx:.1f},{sy:.1f} C{mx:.1f},{sy:.1f} {mx:.1f},{ey:.1f} '
                f'{ex:.1f},{ey:.1f}" fill="none" stroke="#6b7280" marker-end="url(#arrow)"/>'
            )
    for n in nodes:
        x, y = pos[n["id"]]
        fill = STATUS_COLOURS.get((status or {}).get(n["id"], ""), "#eef2ff")
        text_cls = "on-dark" if status and n["id"] in status else ""
        body.append(
            f'<g class="node" data-node="{escape(n["id"])}"><rect x="{x:.1f}" y="{y:.1f}" '
            f'width="{box_w}" height="{box_h}" rx="8" fill="{fill}" stroke="#4f46e5"/>'
        )
        label = n["id"] + (" (foreach)" if n.get("foreach") else "")
        body.append(_text(x + box_w / 2, y + 19, label, "middle", ("strong " + text_cls).strip()))
        body.append(
            _text(
                x + box_w / 2,
                y + 36,
                _clip(n.get("action", ""), 26),
                "middle",
                ("small " + text_cls).strip(),
            )
            + "</g>"
        )
    return _svg(width, height, body, f"DAG of workflow {workflow.get('name', '')}")


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else "…" + s[-(n - 1) :]


# -- run timeline ----------------------------------------------------------------------------


def timeline_svg(timeline: dict, width: int = 1000) -> Markup:
    """One bar per node from its dispatch to its end, labelled with the size chosen and the
    SLO budget left when it was chosen; a dashed line marks the SLO."""
    rows = timeline.get("rows") or []
    if not rows:
        return _empty("run timeline", "no nodes ran")
    label_w, right, row_h, top = 120, 48, 30, 22
    slo = timeline.get("sloMs") or 0
    span = (
        max(
            [timeline.get("duration") or 0, slo]
            + [(r["offset"] or 0) + (r["length"] or 0) for r in rows]
        )
        or 1
    )
    plot_w = width - label_w - right
    height = top + len(rows) * row_h + 24

    def x(ms: float) -> float:
        return label_w + ms / span * plot_w

    body = []
    for i, r in enumerate(rows):
        y = top + i * row_h
        body.append(_text(label_w - 8, y + 17, r["id"], "end"))
        if r["offset"] is None:
            body.append(_text(label_w + 4, y + 17, "not run", cls="muted"))
            continue
        w = max(2.0, r["length"] / span * plot_w)
        fill = STATUS_COLOURS.get(r["status"], "#6b7280")
        size = r.get("size") or {}
        tip = (
            f"{r['id']}: start +{r['offset']:.0f} ms, end +{r['offset'] + r['length']:.0f} ms, "
            f"size {size.get('option') or ''} {size.get('cpu', '?')} cpu / {size.get('memory', '?')} MB, "
            f"remaining budget {r['remainingMs'] if r['remainingMs'] is not None else '?'} ms"
        )
        body.append(
            f'<rect class="bar" x="{x(r["offset"]):.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
            f'rx="3" fill="{fill}"><title>{escape(tip)}</title></rect>'
        )
        label = _size_label(size)
        if r["remainingMs"] is not None:
            label += f" · {r['remainingMs']:.0f} ms left"
        lx = x(r["offset"]) + w + 4
        anchor = "start"
        if lx > width - 150:
            lx, anchor = x(r["offset"]) - 4, "end"
        body.append(_text(lx, y + 17, label, anchor, "small"))
    axis_y = top + len(rows) * row_h + 4
    body.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#9ca3af"/>'
    )
    for k in range(5):
        ms = span * k / 4
        body.append(_text(x(ms), axis_y + 14, f"{ms:.0f} ms", "middle", "small muted"))
    if slo:
        body.append(
            f'<line class="slo" x1="{x(slo):.1f}" y1="{top - 6}" x2="{x(slo):.1f}" y2="{axis_y}" '
            f'stroke="#dc2626" stroke-dasharray="4 3"/>'
        )
        body.append(_text(x(slo), top - 9, f"SLO {slo:.0f} ms", "middle", "small slo-label"))
    return _svg(width, height, body, f"timeline of run {timeline.get('runId', '')}")


def _size_label(size: dict) -> str:
    if not size:
        return "default size"
    name = f"{size['option']} " if size.get("option") else ""
    return f"{name}{size.get('cpu')} cpu/{size.get('memory')} MB"


# -- charts ----------------------------------------------------------------------------------


def line_chart_svg(
    series: dict[str, list[tuple[float, float]]],
    y_label: str,
    x_is_time: bool = True,
    dashed: tuple[str, ...] = (),
    width: int = 760,
    height: int = 280,
    y_max: float | None = None,
    colours: dict[str, str] | None = None,
) -> Markup:
    """Lines with point markers, one per named series, a legend and labelled axes; series in
    ``dashed`` (the baselines) are drawn dashed. ``x`` is epoch ms when ``x_is_time``."""
    pts = [p for s in series.values() for p in s]
    if not pts:
        return _empty(y_label, "no data yet", width, 60)
    left, right, top, bottom = 64, 150, 16, 36
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    top_y = y_max if y_max is not None else nice_ceiling(max(ys))
    pw, ph = width - left - right, height - top - bottom

    def px(x):
        return left + (x - x0) / (x1 - x0) * pw

    def py(y):
        return top + ph - (y / top_y) * ph

    body = [
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#9ca3af"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#9ca3af"/>',
    ]
    for yv in ticks(top_y):
        body.append(
            f'<line x1="{left}" y1="{py(yv):.1f}" x2="{left + pw}" y2="{py(yv):.1f}" stroke="#f3f4f6"/>'
        )
        body.append(_text(left - 6, py(yv) + 4, _num(yv), "end", "small muted"))
    for k in range(3):
        xv = x0 + (x1 - x0) * k / 2
        body.append(
            _text(
                px(xv),
                top + ph + 16,
                _clock(xv) if x_is_time else _num(xv),
                "middle",
                "small muted",
            )
        )
    body.append(
        f'<text x="14" y="{top + ph / 2:.0f}" transform="rotate(-90 14 {top + ph / 2:.0f})" '
        f'text-anchor="middle" class="small">{escape(y_label)}</text>'
    )
    colours = colours or {}
    for i, (name, s) in enumerate(series.items()):
        c = colours.get(name, colour(i))
        dash = ' stroke-dasharray="6 4"' if name in dashed else ""
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(s))
        body.append(
            f'<polyline class="series" data-series="{escape(name)}" points="{path}" fill="none" '
            f'stroke="{c}" stroke-width="2"{dash}/>'
        )
        body.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{c}"/>' for x, y in s)
        ly = top + 12 + i * 18
        body.append(
            f'<line x1="{left + pw + 14}" y1="{ly - 4}" x2="{left + pw + 34}" y2="{ly - 4}" '
            f'stroke="{c}" stroke-width="2"{dash}/>'
        )
        body.append(_text(left + pw + 40, ly, name, cls="small"))
    return _svg(width, height, body, y_label)


def bar_chart_svg(
    bars: list[tuple[str, float]],
    unit: str,
    width: int = 520,
    colours: dict[str, str] | None = None,
) -> Markup:
    """Horizontal bars with their values, one per (label, value)."""
    if not bars:
        return _empty(unit, "no data yet", width)
    label_w, row_h = 130, 26
    top_v = max(v for _, v in bars) or 1
    plot_w = width - label_w - 110
    body = []
    for i, (label, v) in enumerate(bars):
        y = 6 + i * row_h
        w = max(1.0, v / top_v * plot_w)
        body.append(_text(label_w - 8, y + 15, label, "end"))
        body.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" rx="3" '
            f'fill="{(colours or {}).get(label, colour(i))}"/>'
        )
        body.append(_text(label_w + w + 6, y + 15, f"{_num(v)} {unit}", cls="small"))
    return _svg(width, 12 + len(bars) * row_h, body, unit)


def nice_ceiling(v: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above ``v`` (so axis ticks are round numbers)."""
    if v <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(v))
    return next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= v * (1 - 1e-9))


def ticks(top: float) -> list[float]:
    """Round tick values from 0 to ``top`` (a ``nice_ceiling``): steps of 0.5 for 2.5, 0.5 for
    2, 1 for 5, 0.2 for 1, and so on."""
    mantissa = round(top / 10 ** math.floor(math.log10(top)), 3) if top > 0 else 1
    intervals = 4 if mantissa == 2 else 5
    return [top * k / intervals for k in range(intervals + 1)]


def _num(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def _clock(epoch_ms: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch_ms / 1000))
