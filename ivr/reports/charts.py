"""Charts drawn on the server as inline SVG: no JavaScript, nothing fetched from anywhere.

Each chart is drawn from a report table (reports/tables.py), so the chart and the table beside it
show the same numbers. Every bar has a <title> so its value shows on hover and to screen readers.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from ivr.reports.tables import Table

BAR = "#005eb8"
WIDTH = 720


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def columns(labels: list[str], values: list[float], title: str) -> Markup:
    """A column per label (a time series, e.g. calls per day)."""
    height, left, bottom = 220, 40, 30
    top = max(values or [0]) or 1
    step = (WIDTH - left) / max(len(values), 1)
    parts = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH}" y2="{height - bottom}" '
        'stroke="#0b0c0c"/>',
        f'<text x="{left - 6}" y="16" text-anchor="end" font-size="12">{top:g}</text>',
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="12">0</text>',
    ]
    usable = height - bottom - 10
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar = usable * value / top
        x = left + n * step + step * 0.1
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{height - bottom - bar:.1f}" '
            f'width="{max(step * 0.8, 1):.1f}" height="{bar:.1f}" fill="{BAR}">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
    last = len(labels) - 1
    for n in sorted({0, len(labels) // 2, last}) if labels else []:
        x = left + n * step + step / 2
        anchor = "start" if n == 0 else "end" if n == last else "middle"
        x = left if n == 0 else WIDTH if n == last else x
        parts.append(
            f'<text x="{x:.1f}" y="{height - 10}" text-anchor="{anchor}" font-size="12">'
            f"{escape(labels[n])}</text>"
        )
    return _svg(parts, height, title)


def bars(labels: list[str], values: list[float], title: str) -> Markup:
    """A horizontal bar per label (categories: topics, outcomes, prompts)."""
    row, left = 22, 230
    height = row * len(labels) + 10
    top = max(values or [0]) or 1
    parts = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + n * row
        width = (WIDTH - left - 60) * value / top
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="13">'
            f"{escape(label)}</text>"
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" '
            f'fill="{BAR}"><title>{escape(label)}: {value:g}</title></rect>'
            f'<text x="{left + width + 6:.1f}" y="{y + 15}" font-size="13">{value:g}</text>'
        )
    return _svg(parts, height, title)


def funnel(labels: list[str], reached: list[float], dropped: list[float], title: str) -> Markup:
    """Per step: a pale bar for the calls that reached it, the dark part for those who hung up
    there, and the drop-off written beside it ("3 of 40 hung up, 7.5%")."""
    row, left = 24, 230
    top = max(reached or [0]) or 1
    parts = [
        f'<text x="{left}" y="14" font-size="12">Pale: reached the step. Dark: hung up there.'
        "</text>"
    ]
    for n, (label, whole, part) in enumerate(zip(labels, reached, dropped, strict=True)):
        y = 22 + n * row
        full = (WIDTH - left - 170) * whole / top
        cut = (WIDTH - left - 170) * part / top
        share = f"{100 * part / whole:.1f}%" if whole else "-"
        words = f"{part:g} of {whole:g} hung up, {share}"
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="13">'
            f"{escape(label)}</text>"
            f'<rect class="bar reached" x="{left}" y="{y + 3}" width="{full:.1f}" '
            f'height="{row - 6}" fill="{BAR}" fill-opacity="0.25"><title>{escape(label)}: '
            f"{whole:g} reached</title></rect>"
            f'<rect class="bar dropoff" x="{left}" y="{y + 3}" width="{cut:.1f}" '
            f'height="{row - 6}" fill="{BAR}">'
            f"<title>{escape(label)}: {escape(words)}</title></rect>"
            f'<text x="{left + full + 6:.1f}" y="{y + 15}" font-size="12">{escape(words)}</text>'
        )
    return _svg(parts, 22 + row * len(labels) + 6, title)


def week(table: Table, title: str) -> Markup:
    """Weekday by hour grid, darker where there were more calls."""
    cell, left, top_pad = 26, 44, 20
    values = [[_number(v) for v in row[1:]] for row in table.rows]
    top = max((max(r) for r in values), default=0) or 1
    parts = [
        f'<text x="{left + h * cell + cell / 2}" y="14" text-anchor="middle" font-size="11">'
        f"{h:02d}</text>"
        for h in range(0, 24, 3)
    ]
    for w, row in enumerate(table.rows):
        y = top_pad + w * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" font-size="12">{row[0]}</text>'
        )
        for h, value in enumerate(values[w]):
            shade = 0.06 + 0.94 * value / top
            parts.append(
                f'<rect class="cell" x="{left + h * cell}" y="{y}" width="{cell - 2}" '
                f'height="{cell - 2}" fill="{BAR}" fill-opacity="{shade:.2f}">'
                f"<title>{row[0]} {h:02d}:00: {value:g}</title></rect>"
            )
    return _svg(parts, top_pad + 7 * cell + 4, title)


def chart_for(table: Table) -> Markup | None:
    if table.chart == "week":
        return week(table, table.title)
    if table.chart != "bars" or not table.rows:
        return None
    labels = [str(row[0]) for row in table.rows]
    values = [_number(row[1]) for row in table.rows]
    if table.name == "calls_per_day":
        return columns(labels, values, table.title)
    if table.name == "dropoff":
        dropped = [_number(row[2]) for row in table.rows]
        return funnel(labels, values, dropped, table.title)
    return bars(labels, values, table.title)


def _svg(parts: list[str], height: int, title: str) -> Markup:
    return Markup(  # noqa: S704 (every label above went through escape())
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + "</svg>"
    )
