"""Running a call without Redis: the call's state travels in the webhook URLs as well.

When Redis is unreachable the flow engine still works: it only needs the call's state. So every
answer, with or without Redis, seals the state the call will be in after it (node, step,
answers, numbers) with the data key (Fernet: encrypted, so numbers do not show in access logs,
and authenticated, so it cannot be forged or edited) and adds it as `d=` to every action and
redirect URL. Twilio posts it back with the next key press, signed as usual. Redis stays the
authority while it is up (it makes steps idempotent); the sealed copy is only read when Redis
cannot be, so a caller loses nothing they already answered. A callback request confirmed in
this mode is written to the journal on disk (fsync'd) before the caller hears the reference;
outage/recovery.py delivers it once Redis is back. Once a call is in this mode (`offline=1` in its
URLs) it stays in it, so its steps never race a recovering Redis.
"""

from __future__ import annotations

import logging
import re

from flask import current_app, request

from ivr import metrics
from ivr.line.engine import Engine, Outcome, Turn, utc_now
from ivr.line.twiml import STEP_URL, to_xml
from ivr.outage import recovery
from ivr.phone import mask

log = logging.getLogger(__name__)


def answer(sid: str, turn: Turn | None) -> str:
    """The TwiML for this step, worked out and recorded without Redis."""
    ext = current_app.extensions
    engine: Engine = ext["ivr.degraded_engine"]
    settings = current_app.config["SETTINGS"]
    moment = utc_now()
    from_field = request.form.get("From", "")
    state = ext["ivr.keys"].unseal(request.args.get("d", ""), ttl=settings.call_state_ttl)
    if not isinstance(state, dict) or state.get("sid") != sid:
        state = None
    if turn is None:
        step, outcome = 1, engine.start(sid, from_field, moment, request.form.get("To", ""))
    elif state is not None:
        step = int(state["step"]) + 1
        outcome = engine.handle(sid, state["data"], state["node"], step, turn, moment)
    else:
        step, outcome = 1, _pick_up(engine, sid, from_field, turn, moment)
    recovery.reserve_reference(outcome, engine.flow, sid, engine.allocate_reference)
    if outcome.callback:
        journal_callback(outcome, sid, from_field)
    return with_state(outcome, sid, step, offline=True)


def with_state(outcome: Outcome, sid: str, step: int, offline: bool = False) -> str:
    """The answer's TwiML, its step URLs carrying the call's state as it will be after it."""
    sealed = current_app.extensions["ivr.keys"].seal(
        {"sid": sid, "step": step, "node": outcome.node, "data": outcome.data}
    )
    return carry_state(to_xml(outcome.response), sealed, offline)


def _pick_up(engine: Engine, sid: str, from_field: str, turn: Turn, moment) -> Outcome:
    """The first step after Redis went away mid-call: what the caller had said is out of reach."""
    data = engine.fresh_data(from_field, moment, request.form.get("To", ""))
    node_id = request.args.get("n", "")
    node = engine.flow.nodes.get(node_id) or {}
    if node.get("section") == "callback":
        # Half-way through a callback request (a keyed number, say, was in Redis): start the
        # request again, as if the caller had pressed the "call me back" key at the main menu.
        callback_key = next(k for k, v in engine.flow.global_keys.items() if v == "callback_start")
        return engine.handle(
            sid, data, engine.flow.main_menu, 1, Turn("digits", callback_key), moment
        )
    return engine.handle(sid, data, node_id, 1, turn, moment)


def journal_callback(outcome: Outcome, sid: str, from_field: str, in_metrics: bool = True) -> None:
    """Write the confirmed request to disk, fsync'd, before the caller hears the reference.

    Used without Redis, and with Redis when no replica confirmed the write in time (then the
    request was counted in the metrics already: `in_metrics` False)."""
    ext = current_app.extensions
    callback = outcome.callback
    log_fields = {
        **outcome.log,
        "started_at": outcome.data.get("started_at"),
        "from_masked": mask(outcome.data.get("caller_number") or from_field),
        "degraded": True,
    }
    ext["ivr.journal"].append(
        "callback",
        {"callback": callback, "log": log_fields, "events": outcome.events},
        clear={"ref": callback["id"], "t": callback["created_at"], "urgent": callback["urgent"]},
    )
    ext["ivr.deliverer"].ensure_running()
    if in_metrics and not callback.get("is_update"):
        metrics.record_callback(bool(callback.get("urgent")), source="journal")
    log.warning("callback request journalled", extra={"ref": callback["id"]})


def carry_state(twiml: str, sealed: str, offline: bool = False) -> str:
    """Add `d=<sealed state>` to every URL in the answer that comes back to /voice/step.

    Edits the TwiML as text (the library just wrote it: step URLs are attribute values and
    <Redirect> text, `&` escaped), which costs far less per webhook than parsing it again."""
    # A Fernet token is URL-safe base64: "=" padding is all that needs quoting.
    extra = "d=" + sealed.replace("=", "%3D") + ("&offline=1" if offline else "")
    escaped = "&amp;" + extra.replace("&", "&amp;")
    twiml = STEP_ACTION.sub(lambda m: m.group(1) + escaped + '"', twiml)
    return STEP_REDIRECT.sub(lambda m: m.group(1) + escaped + "</Redirect>", twiml)


# STEP_URL always carries a query ("step?s=..."), so the state is added with "&".
STEP_ACTION = re.compile(r'( action="' + re.escape(STEP_URL) + r'[^"]*)"')
STEP_REDIRECT = re.compile(r"(<Redirect\b[^>]*>" + re.escape(STEP_URL) + r"[^<]*)</Redirect>")
