"""The flow engine: given a call's state and what the caller just did, decide where they go next,
what they hear (TwiML) and what to record. It knows nothing about Redis or HTTP."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from twilio.twiml.voice_response import VoiceResponse

from ivr import phone
from ivr.config import Settings
from ivr.line import twiml
from ivr.line.flow import Flow
from ivr.line.hours import Hours
from ivr.line.twiml import step_url
from ivr.line.words import Words, phq2_total

SCREENING_FIELDS = (
    "phq2_interest",
    "phq2_down",
    "risk",
    "difficulty",
    "mood_pattern",
    "sessions_possible",
)


@dataclass
class Turn:
    """What arrived from Twilio for this step."""

    kind: str  # "digits" | "silence" | "dial_done"
    digits: str = ""
    dial_status: str = ""


@dataclass
class Outcome:
    response: VoiceResponse
    node: str
    data: dict
    events: list[dict] = field(default_factory=list)
    log: dict = field(default_factory=dict)
    callback: dict | None = None
    ended: bool = False


class Engine:
    def __init__(
        self, flow: Flow, settings: Settings, hours: Hours, allocate_reference: Callable[[str], str]
    ):
        self.flow = flow
        self.settings = settings
        self.hours = hours
        self.allocate_reference = allocate_reference

    # --- entry points -----------------------------------------------------------------------
    @staticmethod
    def fresh_data(from_field: str, moment: datetime, to_field: str = "") -> dict:
        caller = phone.caller_id_number(from_field)
        return {
            "caller_number": caller,
            # The number the caller rang (Twilio's `To`): one of ours, so always a caller ID
            # Twilio lets a <Dial> use (the service number may not be a Twilio number).
            "called_number": to_field if phone.E164.fullmatch(to_field or "") else "",
            "withheld": caller is None,
            "answers": {},
            "silences": 0,
            "invalids": 0,
            "number_attempts": 0,
            "heard": [],
            "started_at": moment.timestamp(),
        }

    def start(self, sid: str, from_field: str, moment: datetime, to_field: str = "") -> Outcome:
        data = self.fresh_data(from_field, moment, to_field)
        caller = data["caller_number"]
        run = _Run(self, sid, data, step=1, moment=moment)
        run.event(
            "call_started",
            caller_id=("usable" if caller else "withheld_or_unusable"),
            out_of_hours=not self.hours.is_open(moment),
        )
        run.log.update(
            started_at=moment.timestamp(),
            from_masked=phone.mask(caller or from_field),
            caller_id_withheld=caller is None,
        )
        return run.enter(self.flow.start)

    def handle(
        self, sid: str, data: dict, node_id: str, step: int, turn: Turn, moment: datetime
    ) -> Outcome:
        """The caller's answer to `node_id`; `step` is the number the next answer will carry."""
        run = _Run(self, sid, copy.deepcopy(data), step=step, moment=moment)
        node = self.flow.nodes.get(node_id)
        if node is None:  # the flow changed under a live call, or junk: start at the main menu
            return run.enter(self.flow.main_menu)
        kind = node["type"]
        if turn.kind == "dial_done" and kind == "dial":
            run.event("dial_ended", node=node_id, status=turn.dial_status[:20])
            return run.enter(node["next"])
        if kind == "number_entry":
            return run.number_entered(node_id, node, turn)
        if kind == "menu":
            return run.menu_answered(node_id, node, turn)
        # An input for a node that takes none (out of order): say it again.
        return run.enter(node_id)

    def render_again(
        self, sid: str, data: dict, node_id: str, step: int, moment: datetime
    ) -> Outcome:
        """The current prompt once more, without changing anything (used for out-of-order steps)."""
        run = _Run(self, sid, copy.deepcopy(data), step=step, moment=moment, quiet=True)
        node_id = node_id if node_id in self.flow.nodes else self.flow.main_menu
        return run.enter(node_id)


class _Run:
    """One pass through the flow for one webhook: collects TwiML, events and writes."""

    def __init__(
        self, engine: Engine, sid: str, data: dict, step: int, moment: datetime, quiet: bool = False
    ):
        self.engine, self.flow, self.sid = engine, engine.flow, sid
        self.data, self.step, self.moment, self.quiet = data, step, moment, quiet
        self.response = VoiceResponse()
        self.events: list[dict] = []
        self.log: dict = {}
        self.callback: dict | None = None
        self.preface: list[str] = []

    # --- recording -----------------------------------------------------------------------
    def event(self, kind: str, **details) -> None:
        if not self.quiet:
            self.events.append(
                {"t": round(self.moment.timestamp(), 3), "step": self.step, "type": kind, **details}
            )

    # --- speaking ------------------------------------------------------------------------
    def _say(self, target, text: str) -> None:
        target.say(text, voice=self.engine.settings.voice, language=self.engine.settings.language)

    def _speak(self, target, items: list) -> None:
        for text in self.preface:
            self._say(target, text)
        self.preface = []
        for item in items or []:
            if isinstance(item, dict) and "pause" in item:
                target.pause(length=int(item["pause"]))
            else:
                self._say(target, self.fill(str(item)))

    def fill(self, text: str) -> str:
        return text.format_map(Words(self))

    # --- moving through the flow -------------------------------------------------------------
    def enter(self, node_id: str) -> Outcome:
        """Run instant nodes (messages, branches, actions) until one that waits for the caller."""
        for _ in range(len(self.flow.nodes) + 1):  # the flow check forbids instant loops
            node = self.flow.nodes[node_id]
            kind = node["type"]
            # "prompt" events are what the caller heard; "passed" ones are silent decisions.
            self.event(
                "prompt" if node.get("say") else "passed",
                node=node_id,
                section=node.get("section", ""),
            )
            if node.get("topic") and node["topic"] not in self.data["heard"]:
                self.data["heard"].append(node["topic"])
            if kind == "message":
                self._speak(self.response, node.get("say"))
                node_id = node["next"]
            elif kind == "branch":
                node_id = node["then"] if self.condition(node["if"]) else node["else"]
            elif kind == "action":
                self.act(node["do"])
                node_id = node["next"]
            else:
                return self._wait_at(node_id, node)
        raise RuntimeError("flow loops without waiting")  # unreachable after the flow check

    def _wait_at(self, node_id: str, node: dict) -> Outcome:
        kind, settings, response = node["type"], self.flow.settings, self.response
        ended = False
        if kind in ("menu", "number_entry"):
            # A menu takes one key (# and * included); a number is keyed up to the hash key.
            one_key = kind == "menu"
            gather = twiml.gather(node_id, self.step, one_key, settings)
            self._speak(gather, node.get("say"))
            response.append(gather)
            # Reached only when the caller pressed nothing: Twilio falls through the Gather.
            response.redirect(step_url(self.step, node_id, silence="1"), method="POST")
        elif kind == "dial":
            self._speak(response, node.get("say"))
            number = getattr(self.engine.settings, node["number"])
            caller_id = self.data.get("called_number") or self.engine.settings.service_number
            dial = twiml.dial(response, node_id, self.step, caller_id)
            dial.number(number)
        elif kind == "hangup":
            self._speak(response, node.get("say"))
            response.hangup()
            ended = True
            self.event("ended", node=node_id)
            self.log["ended_by_line_at"] = self.moment.timestamp()
        self.log["last_node"] = node_id
        return Outcome(
            response=response,
            node=node_id,
            data=self.data,
            events=self.events,
            log=self.log,
            callback=self.callback,
            ended=ended,
        )

    def condition(self, name: str) -> bool:
        if name == "out_of_hours":
            return not self.engine.hours.is_open(self.moment)
        if name == "caller_id_usable":
            return bool(self.data.get("caller_number"))
        if name == "urgent":
            return bool(self.data["answers"].get("urgent"))
        raise KeyError(name)

    def act(self, name: str) -> None:
        if name == "use_caller_id":
            self.data["callback_number"] = self.data.get("caller_number")
            self.data["number_source"] = "caller_id"
        elif name == "use_keyed_number":
            self.data["callback_number"] = self.data.get("pending_number")
            self.data["number_source"] = "keyed"
        elif name == "create_callback":
            self._create_callback()
        else:
            raise KeyError(name)

    def _create_callback(self) -> None:
        if not self.data.get("callback_number"):
            # Only reachable through a changed flow; never make a request nobody can return.
            self.event("callback_skipped", reason="no_number")
            return
        is_update = bool(self.data.get("callback_ref"))
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
            "is_update": is_update,
        }
        if self.data.get("test"):  # a test call from /try: shown in the queue only on request
            self.callback["test"] = True
        self.event("callback_requested", urgent=self.callback["urgent"], update=is_update)
        self.log["callback_id"] = ref
        self.log["urgent"] = self.callback["urgent"]

    def menu_answered(self, node_id: str, node: dict, turn: Turn) -> Outcome:
        if turn.kind == "silence" or not turn.digits:
            return self._silence(node_id, node)
        key = turn.digits[0]
        options = {str(k): v for k, v in (node.get("options") or {}).items()}
        self.data["silences"] = 0
        if key in options:
            option = options[key]
            self.data["invalids"] = 0
            self.event("key", node=node_id, key=key)
            for name, value in (option.get("record") or {}).items():
                self.data["answers"][name] = value
            if option.get("do"):
                self.act(option["do"])
            if option.get("record") and self.data.get("callback_ref"):
                # A caller who asked for a callback first and answered later (a risk answer
                # above all) gets their request brought up to date, and urgent moves it up.
                self._create_callback()
            return self.enter(option["next"])
        target = self.flow.global_keys.get(key)
        if target:
            self.data["invalids"] = 0
            self.event("key", node=node_id, key=key)
            return self.enter(node_id if target == "repeat" else target)
        return self._invalid(node_id, key)

    def number_entered(self, node_id: str, node: dict, turn: Turn) -> Outcome:
        keyed = "".join(ch for ch in turn.digits if ch.isdigit())
        if turn.kind == "silence" or not turn.digits:
            return self._silence(node_id, node)
        self.data["silences"] = 0
        if set(turn.digits) == {"*"}:  # star repeats here too, and is not a failed attempt
            self.event("key", node=node_id, key="*")
            return self.enter(node_id)
        target = self.flow.global_keys.get(turn.digits)
        if target and target != "repeat":  # a lone 0 (main menu) is a key, never a number
            self.data["number_attempts"] = 0
            self.event("key", node=node_id, key=turn.digits)
            return self.enter(target)
        try:
            number = phone.normalise_uk(keyed)
        except phone.NumberProblem as problem:
            self.data["number_attempts"] += 1
            self.event("number_rejected", node=node_id, reason=problem.reason)
            if self.data["number_attempts"] >= self.flow.settings["number_attempts"]:
                self.data["number_attempts"] = 0
                return self.enter(node["on_fail"])
            phrases = self.flow.phrases
            if keyed:
                self.preface.append(
                    phrases.get("number_readback", "You keyed in: {keyed}.").replace(
                        "{keyed}", phone.spoken_digits(keyed[:16])
                    )
                )
            self.preface.append(phrases.get("number_problems", {}).get(problem.reason, ""))
            self.preface = [p for p in self.preface if p]
            return self.enter(node_id)
        self.data["number_attempts"] = 0
        self.data["pending_number"] = number
        self.event("number_keyed", node=node_id)  # never the digits: they are personal data
        return self.enter(node["next"])

    def _silence(self, node_id: str, node: dict) -> Outcome:
        self.event("silence", node=node_id)
        if node.get("on_silence"):
            self.data["silences"] = 0
            return self.enter(node["on_silence"])
        self.data["silences"] += 1
        if self.data["silences"] > self.flow.settings["silence_reprompts"]:
            self.data["silences"] = 0
            self.log["ended_reason"] = "silence"
            return self.enter(self.flow.settings["silence_end"])
        self.preface.append(self.flow.phrases["silence"])
        return self.enter(node_id)

    def _invalid(self, node_id: str, key: str) -> Outcome:
        self.data["invalids"] += 1
        self.event("invalid_key", node=node_id, key=key if key in "0123456789*#" else "?")
        if self.data["invalids"] >= self.flow.settings["invalid_limit"]:
            self.data["invalids"] = 0
            self.log["ended_reason"] = "invalid_keys"
            return self.enter(self.flow.settings["invalid_end"])
        self.preface.append(self.flow.phrases["invalid_key"])
        return self.enter(node_id)


def utc_now() -> datetime:
    return datetime.now(UTC)
