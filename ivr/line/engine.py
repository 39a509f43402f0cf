"""The flow engine: given a call's state and what the caller just did, decide where they go next,
what they hear (TwiML) and what to record. It knows nothing about Redis or HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from twilio.twiml.voice_response import VoiceResponse

from ivr import phone
from ivr.config import Settings
from ivr.line import speech, twiml
from ivr.line.answers import Answers
from ivr.line.flow import Flow
from ivr.line.hours import Hours
from ivr.line.requests import Requests
from ivr.line.twiml import step_url
from ivr.line.words import Words


@dataclass
class Turn:
    """What arrived from Twilio for this step."""

    kind: str  # "digits" | "speech" | "silence" | "dial_done"
    digits: str = ""
    dial_status: str = ""
    speech: str = ""  # Twilio's SpeechResult
    confidence: float = 1.0  # Twilio's Confidence (0 to 1)


@dataclass
class Outcome:
    response: VoiceResponse
    node: str
    data: dict
    events: list[dict] = field(default_factory=list)
    log: dict = field(default_factory=dict)
    callback: dict | None = None
    ended: bool = False
    withdraw: str | None = None  # a callback request the caller refused: removed in the same save
    text: dict | None = None  # {"to", "body"}: the reference by text, sent after the save


# (CallSid, caller's number, moment) -> True when this number has had its callbacks for today.
LimitCheck = Callable[[str, str, datetime], bool]


class Engine:
    def __init__(
        self,
        flow: Flow,
        settings: Settings,
        hours: Hours,
        allocate_reference: Callable[[str], str],
        callback_limit: LimitCheck | None = None,
    ):
        self.flow = flow
        self.settings = settings
        self.hours = hours
        self.allocate_reference = allocate_reference
        self.callback_limit = callback_limit
        self._hints: dict[str, str] = {}  # a menu's speech hints: fixed for the flow's life

    def hints(self, node_id: str, node: dict) -> str:
        if node_id not in self._hints:
            self._hints[node_id] = speech.hints(node, self.flow.global_words)
        return self._hints[node_id]

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
            "failures": 0,
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
        run = _Run(self, sid, _copied(data), step=step, moment=moment)
        node = self.flow.nodes.get(node_id)
        if node is None:  # the flow changed under a live call, or junk: start at the main menu
            return run.enter(self.flow.main_menu)
        kind = node["type"]
        if turn.kind == "dial_done" and kind == "dial":
            status = turn.dial_status[:20]
            run.event("dial_ended", node=node_id, status=status)
            return run.enter((node.get("outcomes") or {}).get(status) or node["next"])
        if kind == "number_entry":
            return run.number_entered(node_id, node, turn)
        if kind == "words_entry":
            return run.words_entered(node_id, node, turn)
        if kind == "menu":
            return run.menu_answered(node_id, node, turn)
        # An input for a node that takes none (out of order): say it again.
        return run.enter(node_id)

    def render_again(
        self, sid: str, data: dict, node_id: str, step: int, moment: datetime
    ) -> Outcome:
        """The current prompt once more, without changing anything (used for out-of-order steps)."""
        run = _Run(self, sid, _copied(data), step=step, moment=moment, quiet=True)
        node_id = node_id if node_id in self.flow.nodes else self.flow.main_menu
        return run.enter(node_id)


class _Run(Answers, Requests):
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
        self.withdraw: str | None = None
        self.text: dict | None = None
        self.made_here = False  # this pass made the call's callback request (not an update)
        # What the caller will hear before the prompt that waits: filled sentences and pauses.
        self.preface: list = []

    # --- recording -----------------------------------------------------------------------
    def event(self, kind: str, **details) -> None:
        if not self.quiet:
            self.events.append(
                {"t": round(self.moment.timestamp(), 3), "step": self.step, "type": kind, **details}
            )

    # --- speaking ------------------------------------------------------------------------
    def _say(self, target, text: str | None):
        return target.say(
            text, voice=self.engine.settings.voice, language=self.engine.settings.language
        )

    def _speak(self, target) -> None:
        """Say everything queued. A pause is an SSML <break> inside the next <Say>: Twilio lets
        only <Say> and <Play> sit inside a <Gather> (error 13320), and a break keeps the words
        interruptible by a key."""
        pause, last = 0, None
        for item in self.preface:
            if isinstance(item, dict):
                pause += int(item.get("pause", 0))
                continue
            if pause:
                last = self._say(target, None)
                last.break_(time=f"{pause}s")
                last.append(item)
                pause = 0
            else:
                last = self._say(target, item)
        if pause and last is not None:
            last.break_(time=f"{pause}s")
        elif pause and isinstance(target, VoiceResponse):
            target.pause(length=pause)
        self.preface = []

    def _queue(self, items: list | None) -> None:
        for item in items or []:
            is_pause = isinstance(item, dict) and "pause" in item
            self.preface.append(item if is_pause else self.fill(str(item)))

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
                # Queued, not said: it plays inside the next prompt's <Gather>, so a caller
                # can press 9 (or say "call me back") while the welcome is still playing.
                self._queue(node.get("say"))
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
        self._queue(node.get("say"))
        if kind in ("menu", "number_entry", "words_entry"):
            # A menu takes one key (# and * included) or words; a number is keyed up to hash.
            one_key = kind != "number_entry"
            hints = {
                "menu": self.engine.hints(node_id, node),
                "number_entry": twiml.DIGITS_HINT,
            }.get(kind, "")
            gather = twiml.gather(
                node_id, self.step, one_key, settings, hints, self.engine.settings
            )
            self._speak(gather)
            response.append(gather)
            # Reached only when the caller pressed nothing: Twilio falls through the Gather.
            response.redirect(step_url(self.step, node_id, silence="1"), method="POST")
        elif kind == "dial":
            self._speak(response)
            number = getattr(self.engine.settings, node["number"])
            caller_id = twiml.put_through_caller_id(self.data, self.engine.settings)
            dial = twiml.dial(response, node_id, self.step, caller_id)
            dial.number(number)
        elif kind == "hangup":
            self._speak(response)
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
            withdraw=self.withdraw,
            text=self.text,
        )

    def condition(self, name: str) -> bool:
        data = self.data
        if name == "out_of_hours":
            return not self.engine.hours.is_open(self.moment)
        if name == "caller_id_usable":
            return bool(data.get("caller_number"))
        if name == "urgent":
            return bool(data["answers"].get("urgent"))
        if name == "has_callback":
            return bool(data.get("callback_ref"))
        if name == "can_text":  # only ever a UK mobile, and only the number we will call
            return phone.is_uk_mobile(data.get("callback_number") or "")
        if name == "callback_limit_reached":
            # Against robot diallers only: a caller at risk is never turned away.
            check, number = self.engine.callback_limit, data.get("caller_number")
            if data["answers"].get("urgent") or data.get("test") or check is None or not number:
                return False
            return check(self.sid, number, self.moment)
        raise KeyError(name)


def _copied(value):
    """A copy of the call's data (JSON: dicts, lists, plain values) that the run may change:
    what copy.deepcopy gives, for a fraction of its cost per webhook."""
    if type(value) is dict:
        return {k: _copied(v) for k, v in value.items()}
    if type(value) is list:
        return [_copied(v) for v in value]
    return value


def utc_now() -> datetime:
    return datetime.now(UTC)
