"""The callback request a call makes: when it is made (a confirmed number, a risk answer of
yes or rather not say, the last callback question), how later answers bring it up to date under
the same reference, and how a caller's no to the urgent safety call withdraws it. Mixed into the
engine's `_Run`; the writes themselves happen in the step's one Redis transaction."""

from __future__ import annotations

from ivr import phone
from ivr.line.words import phq2_total

SCREENING_FIELDS = (
    "phq2_interest",
    "phq2_down",
    "risk",
    "difficulty",
    "mood_pattern",
    "sessions_possible",
)


class Requests:
    """Needs from `_Run`: engine, sid, data, moment, log, event(), callback, withdraw,
    made_here."""

    def act(self, name: str) -> None:
        data = self.data
        if name in ("use_caller_id", "use_keyed_number"):
            keyed = name == "use_keyed_number"
            data["callback_number"] = data.get("pending_number" if keyed else "caller_number")
            data["number_source"] = "keyed" if keyed else "caller_id"
            # Confirmed: from here on the request exists, whatever the caller does next.
            self._create_callback()
        elif name == "create_callback":
            data["caller_finished"] = True
            self._create_callback()
        elif name == "open_urgent_request":
            if not data.get("callback_number"):
                data["callback_number"] = data.get("caller_number")
                data["number_source"] = "caller_id"
            self._create_callback()
            self.event("urgent_request_opened", made=bool(data.get("callback_ref")))
        elif name == "withdraw_urgent_request":
            self._withdraw()
        elif name == "send_reference_text":
            self._reference_text()
        else:
            raise KeyError(name)

    def _reference_text(self) -> None:
        """The caller said yes: their reference, by text, sent after this step is saved."""
        number = self.data.get("callback_number") or ""
        if not (self.data.get("callback_ref") and phone.is_uk_mobile(number)):
            return
        body = self.fill(self.flow.phrases.get("reference_text", "{reference_digits}"))
        self.text = {"to": number, "body": body}
        self.event("reference_text_requested")  # never the number: it is personal data

    def _withdraw(self) -> None:
        """The caller said no to the safety call: their request goes, the no is counted."""
        data = self.data
        ref = data.get("callback_ref")
        if ref and not data.get("caller_finished"):
            self.withdraw, self.callback = ref, None
            for name in ("callback_ref", "callback_number", "number_source"):
                data.pop(name, None)
            self.log["callback_id"] = ""
        # Kept when the caller had already booked it themselves: they asked for that call.
        self.event("urgent_call_declined", request_kept=bool(data.get("callback_ref")))

    def _create_callback(self) -> None:
        """Make the call's callback request, or bring it up to date (same reference)."""
        if not self.data.get("callback_number"):
            # Only reachable through a changed flow; never make a request nobody can return.
            self.event("callback_skipped", reason="no_number")
            return
        if not self.data.get("callback_ref"):
            self.made_here = True
            self.data["callback_made_at"] = self.moment.timestamp()
        is_update = not self.made_here
        # The reference reserved when the caller entered the callback or screening questions
        # (ivr/outage/recovery.py): every retry of this step, on any worker, reads the same one.
        ref = (
            self.data.get("callback_ref")
            or self.data.get("reserved_ref")
            or self.engine.allocate_reference(self.sid)
        )
        self.data["callback_ref"] = ref
        answers = self.data["answers"]
        screening = {k: answers[k] for k in SCREENING_FIELDS if k in answers}
        self.callback = {
            "id": ref,
            "reference": ref,
            "call_sid": self.sid,
            "phone": self.data["callback_number"],
            "number_source": self.data.get("number_source", ""),
            "caller_id_withheld": self.data.get("withheld", False),
            "voicemail_ok": bool(answers.get("voicemail_ok")),
            "preferred_time": answers.get("preferred_time", "any"),
            "urgent": bool(answers.get("urgent")),
            "answers": screening,
            "phq2_total": phq2_total(answers),
            "heard": list(self.data["heard"]),
            "out_of_hours": not self.engine.hours.is_open(self.moment),
            "created_at": self.moment.timestamp(),
            "status": "queued",
            # False until the caller has heard their request confirmed: intake sees "caller did
            # not finish" on a request made at a risk answer or a confirmed number.
            "caller_finished": bool(self.data.get("caller_finished")),
            # Said aloud by the caller and kept as they said it (encrypted at rest).
            "interpreter_language": self.data.get("interpreter_language", ""),
            "is_update": is_update,
        }
        if self.data.get("test"):  # a test call from /try: shown in the queue only on request
            self.callback["test"] = True
        # Counted once per request, and once more if a later answer makes it urgent.
        counted = self.data.get("counted_urgent")
        if not is_update or (self.callback["urgent"] and not counted):
            self.event("callback_requested", urgent=self.callback["urgent"], update=is_update)
        self.data["counted_urgent"] = bool(counted or self.callback["urgent"])
        self.log["callback_id"] = ref
        self.log["urgent"] = self.callback["urgent"]
