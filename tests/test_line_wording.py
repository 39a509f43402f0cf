"""What callers hear, checked against the service leaflet and against what just happened on
the call (shared/reference/ipt-leaflet.txt is the source of every fact about IPT)."""

from __future__ import annotations


def screening_up_to_sessions(call):
    for keys in ("2", "1", "1", "2", "1", "1"):  # PHQ-2, no risk, difficulty, episodes
        call.press(keys)
    return call.heard()


def test_the_sessions_question_keeps_to_the_leaflet(phone):
    # The leaflet: "around eight sessions ... usually last around fifty minutes ... generally
    # spread across a number of weeks". It never says the sessions are weekly.
    heard = screening_up_to_sessions(phone())
    question = heard[heard.index("I P T is usually") :]
    assert "about eight sessions" in question
    assert "about fifty minutes" in question
    assert "several weeks" in question
    assert "weekly" not in question


def test_a_caller_ended_for_wrong_keys_is_not_told_we_heard_nothing(phone):
    call = phone()
    call.heard()
    for keys in ("7", "8", "7", "8", "7"):
        call.press(keys)
    ending = call.heard()
    assert call.ended
    assert "not heard from you" not in ending
    assert "keys" in ending
    for help_line in ("NHS 111", "option 2", "999", "116 123"):
        assert help_line in ending
