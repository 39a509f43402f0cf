"""Service figures for a date range, read from the daily counters (figures.py) and laid out as
tables, each with its definition written beside it. The pages, charts and CSV exports all use
these tables, so a chart, its table and its CSV can never disagree.

A range of a year is ~365 hash reads in one round trip, whatever the number of calls.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from ivr.intake.outcomes import TOPIC_LABELS
from ivr.line.calls import outcome_label
from ivr.line.flow import Flow
from ivr.reports.daily_totals import sum_days
from ivr.reports.labels import node_label
from ivr.store.keys import key

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RISK_ANSWERS = (("yes", "Yes"), ("no", "No"), ("prefer_not_to_say", "Would rather not say"))
MAX_DAYS = 800  # a range longer than this is refused (two years is plenty for one page)


@dataclass
class Table:
    name: str  # used in URLs: /reports/figures.csv?table=<name>
    title: str
    definition: str
    columns: list[str]
    rows: list[list]
    chart: str = ""  # "bars" (first column labels, second column values), "week" or ""


@dataclass
class Totals:
    start: date
    end: date
    calls: Counter = field(default_factory=Counter)
    intake: Counter = field(default_factory=Counter)
    per_day: list[tuple[date, Counter]] = field(default_factory=list)
    by_weekday_hour: Counter = field(default_factory=Counter)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


PER_DAY = ["calls", "callbacks", "abandoned"]  # the counters the per-day table shows


def load(redis, start: date, end: date) -> Totals:
    """Sum the daily counters from `start` to `end` inclusive (local days), on the server."""
    days = days_between(start, end)
    calls, per_day, by_hour = sum_days(
        redis,
        [key("fig_day", day=d.isoformat()) for d in days],
        [str(d.weekday()) for d in days],
        PER_DAY,
    )
    intake, _, _ = sum_days(redis, [key("fig_intake", day=d.isoformat()) for d in days], [], [])
    out = Totals(start, end, calls=calls, intake=intake)
    out.per_day = list(zip(days, per_day, strict=True))
    for slot, value in by_hour.items():
        weekday, hour = slot.split(":")
        out.by_weekday_hour[(int(weekday), int(hour))] = value
    return out


def histogram(counts: Counter, prefix: str) -> dict[int, int]:
    return {int(k[len(prefix) :]): v for k, v in counts.items() if k.startswith(prefix) and v}


def percentile(hist: dict[int, int], share: float) -> int | None:
    """Nearest-rank percentile of a histogram {value: count}; None if it is empty."""
    total = sum(hist.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(share * total)), 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return None


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def minutes(value: int | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value} min"
    return f"{value / 60:.1f} h" if value < 48 * 60 else f"{value / 1440:.1f} days"


def summary(fig: Totals) -> list[tuple[str, str, str]]:
    """The headline figures: (label, value, definition)."""
    c, i = fig.calls, fig.intake
    ended = sum(v for k, v in c.items() if k.startswith("outcome:"))
    first = percentile(histogram(i, "to_first_attempt:"), 0.5)
    return [
        ("Calls", str(c["calls"]), "calls answered by the line"),
        ("Abandoned", pct(c["abandoned"], ended), "hung up before an end of the flow"),
        ("Callbacks requested", str(c["callbacks"]), "callback requests made on calls"),
        (
            "Phone numbers refused",
            str(c["numbers_rejected"]),
            "numbers keyed in that the line could not call (each time)",
        ),
        (
            "Out of hours",
            pct(c["out_of_hours"], c["calls"]),
            "of calls, made while the team was closed",
        ),
        (
            "Caller ID withheld",
            pct(c["withheld"], c["calls"]),
            "of calls, with no caller ID to call back on",
        ),
        (
            "Screening completed",
            pct(c["screening_completed"], c["screening_started"]),
            "of the calls that started it",
        ),
        ("Median time to first attempt", minutes(first), "from request to intake's first call"),
        (
            "Average call length",
            call_length(c["duration_total"], c["duration_calls"]),
            "of calls whose length Twilio reported when they ended",
        ),
    ]


def call_length(total_seconds: int, calls: int) -> str:
    if not calls:
        return "-"
    seconds = round(total_seconds / calls)
    return f"{seconds // 60} min {seconds % 60:02d} s"


def tables(fig: Totals, flow: Flow) -> list[Table]:
    c, i = fig.calls, fig.intake
    calls = c["calls"]
    out = [
        Table(
            "calls_per_day",
            "Calls per day",
            "Calls answered by the line, by the local (UK) day they started. Abandoned: the caller "
            "hung up before reaching an end of the flow (a callback booked, crisis support, or the "
            "line ending the call).",
            ["Day", "Calls", "Callbacks requested", "Abandoned"],
            [[d.isoformat(), n["calls"], n["callbacks"], n["abandoned"]] for d, n in fig.per_day],
            chart="bars",
        ),
        Table(
            "calls_by_hour",
            "Calls by hour of the week",
            "Calls by the local weekday and hour they started, summed over the range.",
            ["Day", *[f"{h:02d}" for h in range(24)]],
            [[WEEKDAYS[w], *[fig.by_weekday_hour[(w, h)] for h in range(24)]] for w in range(7)],
            chart="week",
        ),
    ]
    topics = [(flow.nodes[x]["topic"], x) for x in flow.node_order if flow.nodes[x].get("topic")]
    out.append(
        Table(
            "ipt_explanation",
            "Who heard each part of the IPT explanation",
            "Calls that heard each part at least once (a call that heard it twice counts once); "
            "share of all calls.",
            ["Part", "Calls", "Share of calls"],
            [
                [
                    node_label(flow, node, TOPIC_LABELS.get(t, "")),
                    c[f"topic:{t}"],
                    pct(c[f"topic:{t}"], calls),
                ]
                for t, node in topics
            ],
            chart="bars",
        )
    )
    phq = [c[f"phq2:{n}"] for n in range(7)]
    out.append(
        Table(
            "screening",
            "Screening",
            "Started: heard the first screening question. Completed: reached the end of the "
            "questions. PHQ-2: calls that answered both items (skips excluded); a total of 3 or "
            "more suggests likely depression.",
            ["Figure", "Calls", "Share"],
            [
                ["Screening started", c["screening_started"], pct(c["screening_started"], calls)],
                [
                    "Screening completed",
                    c["screening_completed"],
                    pct(c["screening_completed"], c["screening_started"]),
                ],
                ["PHQ-2 answered", sum(phq), pct(sum(phq), c["screening_started"])],
                ["PHQ-2 total 3 or more", sum(phq[3:]), pct(sum(phq[3:]), sum(phq))],
            ],
        )
    )
    out.append(
        Table(
            "phq2",
            "PHQ-2 totals",
            "Distribution of PHQ-2 totals (0-6) among calls that answered both items.",
            ["Total", "Calls", "Share"],
            [[str(n), phq[n], pct(phq[n], sum(phq))] for n in range(7)],
            chart="bars",
        )
    )
    out += _risk_and_outcomes(fig, flow)
    out += _intake_tables(i)
    return out


def _risk_and_outcomes(fig: Totals, flow: Flow) -> list[Table]:
    c, i = fig.calls, fig.intake
    answered = sum(c[f"risk:{k}"] for k, _ in RISK_ANSWERS)
    urgent = histogram(i, "urgent_to_first_attempt:")
    risk = Table(
        "risk",
        "Risk answers and urgent callbacks",
        "Answers to the question on thoughts of self-harm or ending one's life (first answer "
        "per call). Yes or rather-not-say marks the callback urgent. Urgent time to first "
        "attempt: from the request to the intake team's first call, median and 90th "
        "percentile (nearest rank, to the minute). Crisis support heard and put through to the "
        "crisis line: calls that did so at least once, share of all calls.",
        ["Figure", "Value", "Share"],
        [[label, c[f"risk:{k}"], pct(c[f"risk:{k}"], answered)] for k, label in RISK_ANSWERS]
        + [
            # Once per call, whatever it did after; share of all calls.
            ["Heard the crisis support", c["crisis_heard"], pct(c["crisis_heard"], c["calls"])],
            [
                "Put through to the crisis line",
                c["crisis_dialled"],
                pct(c["crisis_dialled"], c["calls"]),
            ],
            ["Urgent callbacks requested", c["callbacks_urgent"], ""],
            ["Urgent: median time to first attempt", minutes(percentile(urgent, 0.5)), ""],
            ["Urgent: 90th percentile to first attempt", minutes(percentile(urgent, 0.9)), ""],
        ],
    )
    names = sorted({k[8:] for k in c if k.startswith("outcome:")})
    ended = sum(c[f"outcome:{n}"] for n in names)
    outcomes = Table(
        "outcomes",
        "How calls ended",
        "One ending per call, the first that fits: the line refused the call (too many calls or "
        "requests from one number); put through to the crisis line; a callback booked; heard the "
        "crisis support and hung up; the line ended it (a phone number refused three times, no "
        "response, wrong keys); heard about IPT only; or the caller hung up. Abandoned: calls "
        "the caller hung up before reaching an end of the flow.",
        ["Outcome", "Calls", "Share"],
        [[outcome_label(n), c[f"outcome:{n}"], pct(c[f"outcome:{n}"], ended)] for n in names]
        + [["abandoned (of the above)", c["abandoned"], pct(c["abandoned"], ended)]],
        chart="bars",
    )
    prompts = [n for n in flow.node_order if flow.nodes[n].get("say")]
    early = c["dropoff:before_first_prompt"]
    funnel = Table(
        "dropoff",
        "Where callers hang up",
        "For each step, in flow order: calls that heard it (once per call), and abandoned "
        "calls whose last step it was. Drop-off = hung up here / reached. The chart shows both: "
        "the pale bar is the calls that reached the step, the dark part those who hung up there. "
        "Before the first prompt (shown when there were any): calls that ended before the line's "
        "first answer reached them, as when the line failed to answer.",
        ["Step", "Reached", "Hung up here", "Drop-off"],
        ([["Before the first prompt", early, early, pct(early, early)]] if early else [])
        + [
            [
                node_label(flow, n),
                c[f"reached:{n}"],
                c[f"dropoff:{n}"],
                pct(c[f"dropoff:{n}"], c[f"reached:{n}"]),
            ]
            for n in prompts
            if c[f"reached:{n}"] or c[f"dropoff:{n}"]
        ],
        chart="bars",
    )
    return [risk, outcomes, funnel]


def _intake_tables(i: Counter) -> list[Table]:
    first, contact = histogram(i, "to_first_attempt:"), histogram(i, "to_contact:")
    attempts = histogram(i, "attempts_to_contact:")
    contacted = i["contacted"]
    mean_attempts = sum(k * v for k, v in attempts.items()) / contacted if contacted else None
    callbacks = Table(
        "callbacks",
        "Callback requests and how fast the team reached callers",
        "Requests by the day they were made. Time to first attempt / to contact: from the "
        "request to the intake team's first call / to the call that reached the caller; median "
        "and 90th percentile (nearest rank, to the minute). Within target: contacted within the "
        "promised number of working days. Attempts per contact: calls made up to and including "
        "the one that reached the caller.",
        ["Figure", "Value"],
        [
            ["Callback requests", i["requested"]],
            ["First attempted", i["first_attempted"]],
            ["Median time to first attempt", minutes(percentile(first, 0.5))],
            ["90th percentile to first attempt", minutes(percentile(first, 0.9))],
            ["Contacted", contacted],
            ["Median time to contact", minutes(percentile(contact, 0.5))],
            ["90th percentile to contact", minutes(percentile(contact, 0.9))],
            ["Contacted within target", pct(i["contacted_in_target"], contacted)],
            [
                "Attempts per contact (mean)",
                "-" if mean_attempts is None else f"{mean_attempts:.2f}",
            ],
        ],
    )
    names = sorted(k[8:] for k in i if k.startswith("outcome:"))
    total = sum(i[f"outcome:{n}"] for n in names)
    outcomes = Table(
        "intake_outcomes",
        "Intake outcomes",
        "How callback requests made in the range were closed by the intake team (requests still "
        "open are not counted here).",
        ["Outcome", "Requests", "Share"],
        [[n.replace("_", " "), i[f"outcome:{n}"], pct(i[f"outcome:{n}"], total)] for n in names],
        chart="bars",
    )
    return [callbacks, outcomes]
