"""/flows: the running flow as a picture, each step with the share of callers who reached it and
who hung up there over a chosen range (from the figures' daily counters), whether this exact flow
is clinically approved, and links to the spoken script and to /try. Managers and admins only.

At start-up the line remembers the content hash of the flow file it loaded; in production it logs
a warning when that content has no approval.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re

import redis
from flask import Blueprint, Response, current_app, render_template

from ivr.reports import tables as report
from ivr.reports.pages import date_range
from ivr.signoff import graph
from ivr.signoff.approval import approval_status
from ivr.signoff.script import content_hash, render
from ivr.signoff.steps import label
from ivr.staff.auth import role_required
from ivr.staff.security import CSP

log = logging.getLogger(__name__)
bp = Blueprint("signoff", __name__)


def _flow():
    return current_app.extensions["ivr.flow"]


def _running_hash() -> str:
    return current_app.extensions["ivr.flow_hash"]


def step_stats(counts, flow) -> dict[str, graph.StepStats]:
    """Share of all calls in the range that reached each step, and that hung up at it."""
    calls = counts["calls"]
    if not calls:
        return {}
    out = {}
    for node_id in flow.node_order:
        reached, dropped = counts[f"reached:{node_id}"], counts[f"dropoff:{node_id}"]
        if reached or dropped:
            out[node_id] = graph.StepStats(reached / calls, dropped / calls)
    return out


@bp.get("/flows")
@role_required("manager", "admin")
def flows_page():
    start, end = date_range()
    flow = _flow()
    totals = report.load(current_app.extensions["ivr.store"].redis, start, end)
    stats = step_stats(totals.calls, flow)
    picture, problem = "", ""
    try:
        picture = graph.inline_svg(flow, stats)
    except graph.GraphUnavailable as exc:
        problem = str(exc)
    approved, detail = approval_status(
        current_app.extensions["ivr.store"].redis, flow, _running_hash()
    )
    try:
        changed = content_hash(flow.source) != _running_hash()
    except OSError:
        changed = True
    rows = [
        (label(flow, n), flow.nodes[n].get("section", ""), stats.get(n)) for n in flow.node_order
    ]
    return render_template(
        "signoff/flows.html",
        title="The phone flow",
        picture=picture,
        problem=problem,
        approved=approved,
        detail=detail,
        flow_hash=_running_hash(),
        changed=changed,
        rows=[r for r in rows if r[2]],
        calls=totals.calls["calls"],
        start=start,
        end=end,
    )


@bp.get("/flows/script")
@role_required("manager", "admin")
def script_page():
    html = render(_flow(), current_app.config["SETTINGS"], _running_hash())
    # The script is one self-contained page (the same file `ivr flows script` writes): allow
    # exactly its own style sheet, nothing else inline.
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    policy = CSP.replace("default-src 'self'", f"default-src 'self'; style-src 'sha256-{digest}'")
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": policy})


def warn_if_unapproved(app) -> None:
    """In production, say in the log at start-up when the running flow has no approval."""
    settings = app.config["SETTINGS"]
    if not settings.is_production:
        return
    try:
        ok, detail = approval_status(
            app.extensions["ivr.store"].redis,
            app.extensions["ivr.flow"],
            app.extensions["ivr.flow_hash"],
        )
    except redis.RedisError as exc:
        ok, detail = False, f"approval could not be checked (Redis: {type(exc).__name__})"
    if not ok:
        log.warning("the running phone flow is not clinically approved: %s", detail)


def init_app(app) -> None:
    from ivr.staff.auth import register_nav

    app.extensions["ivr.flow_hash"] = content_hash(app.extensions["ivr.flow"].source)
    app.register_blueprint(bp)
    register_nav(app, "signoff.flows_page", "The flow", "manager")
    warn_if_unapproved(app)
