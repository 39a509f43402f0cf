"""What a caller says instead of pressing a key: which key their words stand for at a prompt.

Each menu option in the flow file lists the words it accepts (`words:`); the keys every menu
keeps (star, 0, 9) have `global_words:`; a key's number said aloud ("one", "1") and "star" and
"hash" always count. Words are matched as whole words anywhere in what Twilio heard, so
"yes please" is a yes. Words that point at two different keys are not guessed at: the caller
is asked again. No I/O here.
"""

from __future__ import annotations

import re

NUMBER_WORDS = {
    "0": ["zero"],
    "1": ["one"],
    "2": ["two"],
    "3": ["three"],
    "4": ["four"],
    "5": ["five"],
    "6": ["six"],
    "7": ["seven"],
    "8": ["eight"],
    "9": ["nine"],
    "*": ["star"],
    "#": ["hash"],
}
# Digits said aloud while giving a phone number ("oh" is how many people say 0 in one).
DIGIT_WORDS = {w: k for k, ws in NUMBER_WORDS.items() if k.isdigit() for w in ws} | {"oh": "0"}


def normalise(text: str) -> str:
    """Lower case, letters, digits and single spaces: "Yes, please!" -> "yes please"."""
    return " ".join(re.sub(r"[^a-z0-9*#' ]+", " ", (text or "").lower()).split())


def key_words(key: str) -> list[str]:
    """The words every prompt takes for a key: its number said aloud, and the digit itself."""
    return [*NUMBER_WORDS.get(key, []), key] if key not in "*#" else NUMBER_WORDS[key]


def words_by_key(node: dict, global_words: dict[str, list]) -> dict[str, list[str]]:
    """Every word a caller may say at this menu, by the key it stands for."""
    out: dict[str, list[str]] = {}
    for key, option in (node.get("options") or {}).items():
        key = str(key)
        said = [str(w) for w in (option or {}).get("words") or []]
        out[key] = [normalise(w) for w in said + key_words(key)]
    for key, words in (global_words or {}).items():
        out.setdefault(str(key), [])
        out[str(key)] += [normalise(str(w)) for w in words] + key_words(str(key))
    return out


def _contains(heard: str, phrase: str) -> bool:
    return bool(phrase) and f" {phrase} " in f" {heard} "


def key_for(
    text: str, node: dict, global_words: dict[str, list], global_keys: dict[str, str]
) -> str | None:
    """The one key these words stand for at this menu, or None (no match, or words for two
    keys that lead to different places: "yes no" is not guessed at)."""
    heard = normalise(text)
    if not heard:
        return None
    matched = {
        key
        for key, words in words_by_key(node, global_words).items()
        if any(_contains(heard, w) for w in words)
    }
    options = {str(k): v for k, v in (node.get("options") or {}).items()}
    if len({_target(options, global_keys, k) for k in matched}) != 1:
        return None
    # Same place either way ("call me back": option 3 and the 9 key): the menu's own option.
    return min(matched, key=lambda k: (k not in options, k))


def command_for(text: str, global_words: dict[str, list]) -> str | None:
    """At a number prompt, only the flow's own words for the global keys ("repeat", "menu")
    count: "nine" or "oh" are part of the number."""
    heard = normalise(text)
    matched = {
        str(key)
        for key, words in (global_words or {}).items()
        if any(_contains(heard, normalise(str(w))) for w in words)
    }
    return matched.pop() if len(matched) == 1 else None


def hints(node: dict, global_words: dict[str, list]) -> str:
    """Twilio's `hints` for this prompt: the words it accepts, so the recogniser expects them."""
    seen: list[str] = []
    for words in words_by_key(node, global_words).values():
        for word in words:
            if word not in seen and not word.isdigit() and word not in "*#":
                seen.append(word)
    return ", ".join(seen)[:500]


REPEATS = {"double": 2, "treble": 3, "triple": 3}


def spoken_number(text: str) -> str:
    """Digits from a phone number said aloud ("oh seven seven double oh" -> "07700")."""
    digits, times = "", 1
    for word in normalise(text).split():
        if word in REPEATS:
            times = REPEATS[word]
            continue
        said = word if word.isdigit() else DIGIT_WORDS.get(word, "")
        if said:
            digits += said[0] * (times - 1) + said
        times = 1
    return digits


def shared_words(
    node: dict, global_words: dict[str, list], global_keys: dict[str, str]
) -> list[tuple[str, str, str]]:
    """(word, key, other key) for each word two options of this menu share and that would lead
    to different places: the flow check refuses them."""
    options = {str(k): v for k, v in (node.get("options") or {}).items()}
    owner: dict[str, str] = {}
    problems = []
    for key, words in words_by_key(node, global_words).items():
        for word in words:
            other = owner.get(word)
            if other is None:
                owner[word] = key
            elif other != key and _target(options, global_keys, key) != _target(
                options, global_keys, other
            ):
                problems.append((word, other, key))
    return problems


def _target(options: dict, global_keys: dict, key: str) -> str:
    option = options.get(key)
    if isinstance(option, dict):
        return str(option.get("next"))
    return str(global_keys.get(key))
