"""Per-worker figures for managers: attempts, callers reached, and how fast each worker's first
calls back came, from the daily intake counters (ivr/reports/figures.py counts them per attempt,
once each, by the day the callback request was made)."""

from __future__ import annotations

from collections import Counter, defaultdict

from ivr.reports.tables import Table, minutes, pct, percentile

DEFINITION = (
    "For callback requests made in the range. Attempts: calls back each worker recorded (API "
    "clients show as api:NAME). Reached: those attempts where the caller was spoken to; share "
    "of the worker's attempts. First attempts: requests whose first call back was this "
    "worker's. Median time to first attempt: from the request to that first call, over those "
    "requests (nearest rank, to the minute; it includes nights, weekends and bank holidays)."
)


def worker_table(intake: Counter) -> Table:
    attempts: Counter = Counter()
    reached: Counter = Counter()
    first: dict[str, dict[int, int]] = defaultdict(dict)
    for name, value in intake.items():
        kind, _, rest = name.partition(":")
        if kind == "worker_attempts":
            attempts[rest] += value
        elif kind == "worker_reached":
            reached[rest] += value
        elif kind == "worker_first":
            who, _, waited = rest.rpartition(":")
            if waited.isdigit() and value:
                first[who][int(waited)] = first[who].get(int(waited), 0) + value
    rows = [
        [
            who,
            attempts[who],
            reached[who],
            pct(reached[who], attempts[who]),
            sum(first[who].values()),
            minutes(percentile(first[who], 0.5)),
        ]
        for who in sorted(set(attempts) | set(first))
    ]
    return Table(
        "workers",
        "Intake workers",
        DEFINITION,
        ["Worker", "Attempts", "Reached", "Reached share", "First attempts", "Median to first"],
        rows,
        chart="bars",
    )
