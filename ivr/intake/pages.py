"""The intake worker's pages: the callback queue and one request (claim, call, record, export)."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from ivr.intake import audit, board, call_connect, notes, outcomes, supervision
from ivr.intake.finding import PER_PAGE, find
from ivr.intake.queue import STATUSES
from ivr.intake.service import IntakeError, intake
from ivr.intake.summary import age, summary_text, when
from ivr.phone import national
from ivr.staff import users
from ivr.staff.auth import BACKGROUND_HEADER, current_user, role_required

bp = Blueprint("intake", __name__, url_prefix="/intake")


def _me() -> str:
    return current_user()["username"]


def _filters() -> tuple[str | None, str, int]:
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        abort(400, f"Status must be one of {', '.join(STATUSES)}.")
    page = request.args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        abort(400, "The page must be a whole number from 1.")
    return status, request.args.get("q", "")[:20], int(page)


def _is_manager() -> bool:
    return current_user()["role"] in ("manager", "admin")


def _title(urgent: int) -> str:
    return f"({urgent} urgent) Callback queue" if urgent else "Callback queue"


@bp.app_template_filter("when")
def _when(epoch):
    return when(epoch, intake().hours.tz)


@bp.app_template_filter("national")
def _national(number):
    """07700 900123: the national form, spaced as people read it."""
    digits = national(number or "")
    return f"{digits[:5]} {digits[5:]}" if len(digits) == 11 else digits


@bp.app_template_filter("age")
def _age(seconds):
    return age(seconds)


@bp.get("/", endpoint="queue")
@role_required("intake")
def queue_page():
    status, search, page = _filters()
    test = request.args.get("test") == "1"
    service, settings = intake(), current_app.config["SETTINGS"]
    found = find(service, status, search, page, PER_PAGE, test=test)
    live = board.live(service)
    notices = board.manager_notices(service.redis, settings) if _is_manager() else None
    return render_template(
        "intake/queue.html",
        rows=found.rows,
        found=found,
        live=live,
        notices=notices,
        status=status,
        search=search,
        test=test,
        statuses=STATUSES,
        poll_seconds=settings.queue_poll_seconds,
        title=_title(live["urgent"]),
    )


def _page_rows() -> str:
    status, search, page = _filters()
    test = request.args.get("test") == "1"
    found = find(intake(), status, search, page, PER_PAGE, test=test)
    return render_template("intake/rows.html", rows=found.rows)


@bp.get("/queue/rows")
@role_required("intake")
def queue_rows():
    """The queue table's rows alone (one page of the view)."""
    return _page_rows()


@bp.get("/queue/live")
@role_required("intake")
def queue_live():
    """What the open queue page polls: its rows, the live strip, the title and the urgent
    requests waiting (so the page can announce a new one)."""
    live = board.live(intake())
    return jsonify(
        rows=_page_rows(),
        strip=render_template("intake/strip.html", live=live),
        title=_title(live["urgent"]) + " – IPT referral line",
        urgent_refs=live["urgent_refs"],
    )


def _request_page(ref: str, status: int = 200, **extra):
    try:
        cb = intake().get(ref, _me())
    except IntakeError as exc:
        abort(exc.status, exc.message)
    me = users.get_user(intake().redis, _me()) or {}
    return render_template(
        "intake/request.html",
        cb=cb,
        me=_me(),
        is_manager=_is_manager(),
        workers=[u["username"] for u in users.list_users(intake().redis) if not u.get("disabled")]
        if _is_manager()
        else [],
        related=supervision.related(intake(), cb),
        my_phone=me.get("phone", ""),
        offered=outcomes.offered_outcomes(bool(cb.get("voicemail_ok"))),
        outcome_labels={o.name: o.label for o in outcomes.OUTCOMES.values()},
        close_reasons=outcomes.CLOSE_REASONS,
        phq_item=outcomes.phq_item,
        phq2_meaning=outcomes.phq2_meaning,
        answer=outcomes.answer,
        topics=outcomes.TOPIC_LABELS,
        can_connect=call_connect.configured(current_app.config["SETTINGS"]),
        max_note=notes.MAX_NOTE,
        renew_seconds=current_app.config["SETTINGS"].claim_lease_minutes * 20,  # a third
        title=f"Request {ref}",
        **extra,
    ), status


@bp.get("/callbacks/<ref>")
@role_required("intake")
def request_page(ref: str):
    return _request_page(ref)


def _act(ref: str, action, done: str):
    try:
        action()
    except IntakeError as exc:
        flash(exc.message, "error")
        return _request_page(ref, status=exc.status, form=request.form)
    flash(done, "info")
    return redirect(url_for("intake.request_page", ref=ref), 303)


@bp.post("/callbacks/<ref>/claim")
@role_required("intake")
def claim(ref: str):
    if request.headers.get(BACKGROUND_HEADER):
        # The open request page renewing its claim: no page, no flash; 409 if it was lost.
        try:
            intake().claim(ref, _me())
        except IntakeError as exc:
            return exc.message, exc.status
        return "", 204
    carried = request.form.get("outcome") or request.form.get("note")
    if carried:
        # An attempt refused because the claim lapsed comes back with the claim, filled in,
        # so the worker need not retype their note.
        try:
            intake().claim(ref, _me())
        except IntakeError as exc:
            flash(exc.message, "error")
            return _request_page(ref, status=exc.status, form=request.form)
        flash("You have claimed this request again. Check the attempt below and record it.", "info")
        return _request_page(ref, form=request.form)
    return _act(ref, lambda: intake().claim(ref, _me()), "You have claimed this request.")


@bp.post("/callbacks/<ref>/release")
@role_required("intake")
def release(ref: str):
    return _act(ref, lambda: intake().release(ref, _me()), "Released: it is back in the queue.")


@bp.post("/callbacks/<ref>/outcome")
@role_required("intake")
def outcome(ref: str):
    form = request.form
    try:
        cb = intake().record_outcome(
            ref,
            _me(),
            form.get("outcome", ""),
            form.get("note", ""),
            asked_for=form.get("next_at", ""),
        )
    except IntakeError as exc:
        cb = _already_recorded(ref, form) if exc.status == 409 else None
        if cb is None:
            flash(exc.message, "error")
            return _request_page(ref, status=exc.status, form=form)
    if cb["status"] == "closed":
        reason = outcomes.CLOSE_REASONS.get(cb.get("close_reason"), cb.get("close_reason"))
        flash(f"Request {ref} closed: {reason}.", "info")
        return redirect(url_for("intake.queue"), 303)
    if cb["status"] == "escalated":
        flash(f"Request {ref} is escalated: every attempt made; a manager decides next.", "info")
        return redirect(url_for("intake.request_page", ref=ref), 303)
    flash(f"Attempt recorded. Next attempt: {_when(cb['next_attempt_at'])}.", "info")
    return redirect(url_for("intake.request_page", ref=ref), 303)


def _already_recorded(ref: str, form) -> dict | None:
    """The request, if this form's attempt is already saved exactly as sent: a double click or a
    resent form must not read as a refusal (nor tempt the worker to record it twice)."""
    n = form.get("attempt", "")
    cb = intake().get(ref, _me(), action=None)
    if not n.isdigit() or not 0 < int(n) <= len(cb["attempt_list"]):
        return None
    saved = cb["attempt_list"][int(n) - 1]
    same = (saved["by"], saved["outcome"], saved["note"])
    if same != (_me(), form.get("outcome", ""), notes.clean(form.get("note"))):
        return None
    cb["next_attempt_at"] = saved.get("next_attempt_at") or cb["next_attempt_at"]
    return cb


@bp.post("/callbacks/<ref>/reassign")
@role_required("manager")
def reassign(ref: str):
    """A manager gives another worker's claim to someone else, or releases it."""
    to = request.form.get("to", "")
    done = f"The request now belongs to {to}." if to else "Released: it is back in the queue."
    return _act(ref, lambda: supervision.reassign(intake(), ref, _me(), to), done)


@bp.post("/callbacks/<ref>/merge")
@role_required("intake")
def merge(ref: str):
    """Close this request as a repeat of another from the same number."""
    into = request.form.get("into", "")
    try:
        supervision.merge(intake(), ref, into, _me())
    except IntakeError as exc:
        flash(exc.message, "error")
        return _request_page(ref, status=exc.status, form=request.form)
    flash(f"Request {ref} merged into this one.", "info")
    return redirect(url_for("intake.request_page", ref=into.strip()), 303)


@bp.post("/callbacks/<ref>/connect")
@role_required("intake")
def call_me(ref: str):
    service, settings = intake(), current_app.config["SETTINGS"]
    try:
        cb = service.get(ref, _me(), action=None)
        if cb.get("status") != "claimed" or cb.get("claimed_by") != _me():
            raise IntakeError(409, "Claim this request before calling.")
        phone = call_connect.worker_number(request.form.get("worker_phone", ""))
        call_connect.ring_worker(settings, service.redis, ref, phone, request.url_root)
    except IntakeError as exc:
        flash(exc.message, "error")
        return _request_page(ref, status=exc.status, form=request.form)
    except call_connect.ConnectError as exc:
        flash(str(exc), "error")
        return _request_page(ref, status=400, form=request.form)
    users.set_phone(service.redis, _me(), phone)
    audit.record(service.redis, ref, time.time(), _me(), "connect", "rang the worker's phone")
    flash("Your phone will ring now. Answer it and you will be put through.", "info")
    return redirect(url_for("intake.request_page", ref=ref), 303)


@bp.get("/callbacks/<ref>/summary.txt")
@role_required("intake")
def summary(ref: str):
    try:
        cb = intake().get(ref, _me(), action="exported")
    except IntakeError as exc:
        abort(exc.status, exc.message)
    text = summary_text(cb, intake().hours.tz)
    return Response(text, mimetype="text/plain", headers={"Cache-Control": "no-store"})
