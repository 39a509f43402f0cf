"""How the engine takes a caller's answer at a prompt: a key, words, a phone number, or nothing.

A caller who fails to choose twice in a row (silence, a wrong key, words we could not match or
were not sure of) is never simply hung up on: they go to the prompt's `on_second_failure`
(the callback offer by default), or a `silence_default` answer is taken for them and they are
told so. Mixed into the engine's `_Run`; no I/O here.
"""

from __future__ import annotations

import re

from ivr import phone
from ivr.line import speech
from ivr.line.flow import second_failure

FAILURES_BEFORE_OFFER = 2  # public-service IVR guidance: offer a person after two failed tries


class Answers:
    """Needs from `_Run`: flow, data, engine, preface list, event(), enter(), act(),
    _create_callback()."""

    def menu_answered(self, node_id: str, node: dict, turn) -> object:
        if turn.kind == "speech":
            minimum = self.engine.settings.speech_min_confidence
            flow = self.flow
            key = speech.key_for(turn.speech, node, flow.global_words, flow.global_keys)
            if turn.confidence < minimum or key is None:
                self.event("not_understood", node=node_id, low=turn.confidence < minimum)
                return self._failed(node_id, node, "not_understood", invalid=True)
            return self._choose(node_id, node, key, via="speech")
        if turn.kind == "silence" or not turn.digits:
            return self._failed(node_id, node, "silence")
        return self._choose(node_id, node, turn.digits[0], via="keys")

    def _choose(self, node_id: str, node: dict, key: str, via: str) -> object:
        options = {str(k): v for k, v in (node.get("options") or {}).items()}
        if key in options:
            option = options[key]
            self.data["failures"] = 0
            self.event("key", node=node_id, key=key, via=via)
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
            self.data["failures"] = 0
            self.event("key", node=node_id, key=key, via=via)
            return self.enter(node_id if target == "repeat" else target)
        self.event("invalid_key", node=node_id, key=key if key in "0123456789*#" else "?")
        return self._failed(node_id, node, "invalid_key", invalid=True)

    def number_entered(self, node_id: str, node: dict, turn) -> object:
        if turn.kind == "speech":
            key = speech.command_for(turn.speech, self.flow.global_words)
            if key is not None:  # "repeat" or "menu" said at the number prompt
                turn = type(turn)("digits", digits=key)
            else:
                turn = type(turn)("digits", digits=speech.spoken_number(turn.speech) + "#")
        keyed = "".join(ch for ch in turn.digits if ch.isdigit())
        if turn.kind == "silence" or not turn.digits or turn.digits == "#":
            return self._failed(node_id, node, "silence")
        self.data["failures"] = 0
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

    def words_entered(self, node_id: str, node: dict, turn) -> object:
        """A few words kept as the caller said them (a language for an interpreter)."""
        if turn.kind == "digits":
            return self._choose(node_id, node, turn.digits[0], via="keys")
        if turn.kind != "speech":
            return self._failed(node_id, node, "silence")
        said = " ".join(re.sub(r"[^A-Za-z' -]+", " ", turn.speech).split())[:40]
        if turn.confidence < self.engine.settings.speech_min_confidence or not said:
            self.event("not_understood", node=node_id, low=bool(said))
            return self._failed(node_id, node, "not_understood", invalid=True)
        self.data["failures"] = 0
        self.data[node["record_as"]] = said
        self.event("words_given", node=node_id, kept=node["record_as"])  # never the words
        self._create_callback()
        return self.enter(node["next"])

    def _failed(self, node_id: str, node: dict, phrase: str, invalid: bool = False) -> object:
        """Silence, a wrong key or words we could not use: ask again, or after the second
        failed try take the safe default or go where the prompt says (a callback offer)."""
        if not invalid:
            self.event("silence", node=node_id)
            if node.get("on_silence"):
                self.data["failures"] = 0
                return self.enter(node["on_silence"])
        self.data["failures"] = self.data.get("failures", 0) + 1
        if self.data["failures"] < FAILURES_BEFORE_OFFER:
            self.preface.append(self.flow.phrases.get(phrase) or self.flow.phrases["silence"])
            return self.enter(node_id)
        self.data["failures"] = 0
        default = node.get("silence_default")
        if default is not None and node["type"] == "menu":
            if node.get("silence_says"):
                self.preface.append(str(node["silence_says"]))
            self.event("default_taken", node=node_id, key=str(default))
            return self._choose(node_id, node, str(default), via="default")
        target = second_failure(self.flow, node, invalid)
        settings = self.flow.settings
        if target in (settings["silence_end"], settings["invalid_end"]):
            self.log["ended_reason"] = "invalid_keys" if invalid else "silence"
        self.event("second_failure", node=node_id, to=target)
        return self.enter(target)
