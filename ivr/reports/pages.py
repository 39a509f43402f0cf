"""Manager pages: service figures for a date range (charts, tables, definitions), call logs with
filters, one call's timeline, and CSV exports of every table and of the call logs.

Managers and admins only. Numbers are masked to their last three digits everywhere here.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
)
from werkzeug.exceptions import BadRequest

from ivr.line.calls import OUTCOME_LABELS, OUTCOMES, outcome_label
from ivr.reports import call_logs
from ivr.reports import tables as report
from ivr.reports.charts import chart_for
from ivr.reports.labels import node_label
from ivr.reports.workers import worker_table
from ivr.staff.auth import role_required

bp = Blueprint("reports", __name__, url_prefix="/reports")
DEFAULT_DAYS = 28


class BadRange(BadRequest):
    """A date range that cannot be shown: on these pages the form comes back with the message
    (below); elsewhere (other areas use `date_range`) it is a plain 400 with the message."""


def _store():
    return current_app.extensions["ivr.store"]


def _tz():
    return _store().figures.tz


def _flow():
    return current_app.extensions["ivr.flow"]


def _label(node_id: str | None) -> str:
    return node_label(_flow(), node_id)


def date_range() -> tuple[date, date]:
    """?start=YYYY-MM-DD&end=YYYY-MM-DD (local days, inclusive); the last four weeks by default."""
    today = datetime.now(UTC).astimezone(_tz()).date()
    try:
        end = date.fromisoformat(request.args.get("end") or today.isoformat())
        start = date.fromisoformat(
            request.args.get("start") or (end - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        )
    except ValueError:
        raise BadRange("Dates must look like 2025-01-31.") from None
    if end >= date.max:  # every range ends at the start of the day after `end`
        raise BadRange(f"Dates must be before {date.max}.")
    if start > end:
        raise BadRange("The start date must be on or before the end date.")
    if (end - start).days >= report.MAX_DAYS:
        raise BadRange(f"Choose a range of at most {report.MAX_DAYS} days.")
    return start, end


@bp.errorhandler(BadRange)
def _range_form(exc: BadRange):
    """The page's form again, as typed, with the message; not a bare error page."""
    on_calls = request.endpoint in ("reports.calls", "reports.calls_csv")
    return render_template(
        "reports/calls.html" if on_calls else "reports/figures.html",
        range_error=exc.description,
        start=request.args.get("start", "")[:40],
        end=request.args.get("end", "")[:40],
        outcome=None,
        outcomes=OUTCOME_LABELS,
        calls=[],
        paths={},
        summary=[],
        tables=[],
        charts={},
        label=_label,
        outcome_label=outcome_label,
        when=lambda ts: "",
    ), 400


def _bounds(start: date, end: date) -> tuple[float, float]:
    """Timestamps from the start of `start` to the start of the day after `end`, local time."""
    tz = _tz()
    low = datetime.combine(start, time(0), tzinfo=tz).timestamp()
    return low, datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).timestamp()


def _outcome() -> str | None:
    outcome = request.args.get("outcome") or None
    if outcome is not None and outcome not in OUTCOMES:
        abort(400, f"outcome must be one of: {', '.join(OUTCOMES)}.")
    return outcome


def _csv(rows, filename: str) -> Response:
    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow([_inert(cell) for cell in row])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _inert(cell):
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP's CSV
    injection advice): call logs carry what the phone network passed on."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def _load(start: date, end: date) -> tuple[report.Totals, list[report.Table]]:
    totals = report.load(_store().redis, start, end)
    return totals, [*report.tables(totals, _flow()), worker_table(totals.intake)]


@bp.get("/", endpoint="figures")
@role_required("manager", "admin")
def figures_page():
    start, end = date_range()
    totals, tables = _load(start, end)
    charts = {t.name: chart_for(t) for t in tables}
    return render_template(
        "reports/figures.html",
        summary=report.summary(totals),
        tables=tables,
        charts=charts,
        start=start,
        end=end,
    )


@bp.get("/figures.csv")
@role_required("manager", "admin")
def figures_csv():
    start, end = date_range()
    name = request.args.get("table", "")
    table = next((t for t in _load(start, end)[1] if t.name == name), None)
    if table is None:
        abort(404, "There is no table by that name.")
    return _csv([table.columns, *table.rows], f"{name}_{start}_{end}.csv")


@bp.get("/calls", endpoint="calls")
@role_required("manager", "admin")
def calls_page():
    start, end = date_range()
    outcome = _outcome()
    low, high = _bounds(start, end)
    try:
        items, next_cursor = call_logs.page(
            _store().redis, low, high, outcome, request.args.get("cursor"), 50
        )
    except call_logs.BadCursor:
        abort(400, "That page link is not valid any more; start again from the first page.")
    paths = {
        item["call_sid"]: call_logs.path_text(
            call_logs.events(_store().redis, item["call_sid"]), _label
        )
        for item in items
    }
    return render_template(
        "reports/calls.html",
        calls=items,
        paths=paths,
        start=start,
        end=end,
        outcome=outcome,
        outcomes=OUTCOME_LABELS,
        outcome_label=outcome_label,
        label=_label,
        next_cursor=next_cursor,
        when=lambda ts: call_logs.local_time(ts, _tz()),
    )


@bp.get("/calls.csv")
@role_required("manager", "admin")
def calls_csv():
    """Every call in the range, streamed a thousand at a time: no range is too long to export
    (gunicorn's threaded workers, see the Procfile, do not time out a long download)."""
    start, end = date_range()
    outcome = _outcome()
    low, high = _bounds(start, end)
    rows = call_logs.csv_rows(_store().redis, low, high, outcome, _tz(), _flow())
    return _csv(_chain(rows), f"calls_{start}_{end}.csv")


def _chain(rows):
    yield call_logs.CSV_COLUMNS
    yield from rows


@bp.get("/calls/<sid>", endpoint="call")
@role_required("manager", "admin")
def call_page(sid: str):
    if not sid.isalnum() or len(sid) > 64:
        abort(404, "There is no call with that id.")
    log = _store().call_log(sid)
    if not log:
        abort(404, "There is no call with that id (it may have passed the retention period).")
    started = float(log.get("started_at") or 0)
    return render_template(
        "reports/call.html",
        call=call_logs.public(sid, log),
        events=call_logs.events(_store().redis, sid),
        label=_label,
        outcome_label=outcome_label,
        offset=lambda t: _offset(float(t or 0) - started),
        when=lambda ts: call_logs.local_time(ts, _tz()),
    )


def _offset(seconds: float) -> str:
    """+m:ss from the start of the call (event times are rounded to the millisecond)."""
    seconds = max(0, int(round(seconds)))
    return f"+{seconds // 60}:{seconds % 60:02d}"


def init_app(app) -> None:
    from ivr.staff.auth import register_nav

    app.register_blueprint(bp)
    register_nav(app, "reports.figures", "Service figures", "manager")
    register_nav(app, "reports.calls", "Call logs", "manager")
