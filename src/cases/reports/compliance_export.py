"""A compliance report as JSON-ready data and as CSV, one shape for the API and
the command line.

Durations are business seconds: JSON numbers (microsecond precision), and in CSV
exact decimals with six places. Shares and rates are fractions (0-1), null or
empty when nothing counted towards them. A CSV text cell that a spreadsheet would
read as a formula (a customer id such as `=HYPERLINK(...)`) starts with a `'`;
lines end in CRLF (RFC 4180), so a cell holding a CR or LF is quoted whole and
cannot start a row of its own.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

from cases.reports.compliance_columns import FigureColumns, Ranks
from cases.reports.compliance_report import (
    ClockFigures,
    ComplianceReport,
    Durations,
    GroupFigures,
    GroupsOfColumns,
    share_of,
)
from cases.reports.compliance_seal import FIGURE_INDEX

_BREACH_KINDS = ("first_response", "next_update", "resolution", "vendor")


def seconds(duration: timedelta | None) -> float | None:
    # total_seconds() divides the microseconds by 10**6 as `duration / second`
    # does (the same float), without making a timedelta each time
    return None if duration is None else duration.total_seconds()


def _durations(times: Durations) -> dict[str, Any]:
    return {
        "count": times.count,
        "median_seconds": seconds(times.median),
        "p90_seconds": seconds(times.p90),
    }


def _clock(figures: ClockFigures) -> dict[str, Any]:
    times, target = figures.times, figures.target
    return {
        "count": times.count,
        "median_seconds": seconds(times.median),
        "p90_seconds": seconds(times.p90),
        "judged": target.judged,
        "within_target": target.within,
        "share_within_target": target.share,
    }


def group_dict(report: ComplianceReport, group: GroupFigures) -> dict[str, Any]:
    escalations, breaches = group.escalations, group.breaches
    return {
        "group": {d.value: v for d, v in zip(report.request.group_by, group.key, strict=True)},
        "cases": group.cases,
        "first_response": _clock(group.first_response),
        "resolution": _clock(group.resolution),
        "next_update": _clock(group.next_update),
        "breaches": {
            "total": breaches.total,
            "first_response": breaches.first_response,
            "next_update": breaches.next_update,
            "resolution": breaches.resolution,
            "vendor": breaches.vendor,
        },
        "escalations": {
            "count": escalations.escalations,
            "escalated_cases": escalations.escalated_cases,
            "rate": group.escalation_rate,
            "time_to_escalate": _durations(escalations.time_to_escalate),
            "vendor": _clock(escalations.vendor),
        },
        "resolved": group.resolved,
        "reopened": group.reopened,
        "reopen_rate": group.reopen_rate,
    }


def as_dict(report: ComplianceReport) -> dict[str, Any]:
    """The report as JSON-ready data (moments as ISO 8601 text)."""
    request = report.request
    return {
        "from": request.start.isoformat(),
        "to": request.end.isoformat(),
        "as_of": request.as_of.isoformat(),
        "group_by": [d.value for d in request.group_by],
        "groups": group_dicts(report),
    }


def group_dicts(report: ComplianceReport) -> list[dict[str, Any]]:
    """Each group as `group_dict` makes it; from the columns where the report
    keeps its groups so (ADR 81, 2026-12-05), without making them."""
    if isinstance(report.groups, GroupsOfColumns):
        return column_dicts(report, report.groups.columns)
    return [group_dict(report, g) for g in report.groups]


def _seconds_column(ranks: Ranks, column: Any) -> list[float | None]:
    # as `seconds`: total_seconds() is the microseconds / 10**6, int by int
    lengths = ranks.lengths.tolist()
    return [us / 1_000_000 if n else None for us, n in zip(column.tolist(), lengths, strict=True)]


def _clocks(columns: FigureColumns, measure: str) -> list[dict[str, Any]]:
    """A clock's figures (as `_clock` makes them) of every group of `columns`."""
    ranks, at = columns.ranks[measure], FIGURE_INDEX[f"{measure}_counts.0"]
    counted, within, judged = (columns.counts[:, at + i].tolist() for i in range(3))
    return [
        {
            "count": count,
            "median_seconds": median,
            "p90_seconds": p90,
            "judged": of,
            "within_target": kept,
            "share_within_target": share_of(kept, of),
        }
        for count, median, p90, of, kept in zip(
            counted,
            _seconds_column(ranks, ranks.medians),
            _seconds_column(ranks, ranks.p90s),
            judged,
            within,
            strict=True,
        )
    ]


def column_dicts(report: ComplianceReport, columns: FigureColumns) -> list[dict[str, Any]]:
    """Each group of `columns` as `group_dict` makes it, written from the columns."""
    names = [d.value for d in report.request.group_by]
    of = {figure: columns.counts[:, at].tolist() for figure, at in FIGURE_INDEX.items()}
    ranks = columns.ranks["to_escalate"]
    escalating = zip(
        of["escalation_counts.2"],
        _seconds_column(ranks, ranks.medians),
        _seconds_column(ranks, ranks.p90s),
        strict=True,
    )
    breaches = zip(*(of[f"breaches.{kind}"] for kind in _BREACH_KINDS), strict=True)
    return [
        {
            "group": dict(zip(names, key, strict=True)),
            "cases": cases,
            "first_response": first_response,
            "resolution": resolution,
            "next_update": next_update,
            "breaches": {
                "total": fr + nu + res + vendor,
                "first_response": fr,
                "next_update": nu,
                "resolution": res,
                "vendor": vendor,
            },
            "escalations": {
                "count": escalations,
                "escalated_cases": escalated,
                "rate": share_of(escalated, cases),
                "time_to_escalate": {
                    "count": timed,
                    "median_seconds": median,
                    "p90_seconds": p90,
                },
                "vendor": vendor_clock,
            },
            "resolved": resolution["count"],
            "reopened": reopened,
            "reopen_rate": share_of(reopened, resolution["count"]),
        }
        for (
            key,
            cases,
            first_response,
            resolution,
            next_update,
            (fr, nu, res, vendor),
            escalations,
            escalated,
            (timed, median, p90),
            vendor_clock,
            reopened,
        ) in zip(
            columns.keys,
            of["cases"],
            _clocks(columns, "fr"),
            _clocks(columns, "res"),
            _clocks(columns, "nu"),
            breaches,
            of["escalation_counts.0"],
            of["escalation_counts.1"],
            escalating,
            _clocks(columns, "vendor"),
            of["reopened"],
            strict=True,
        )
    ]


# Flat rows (CSV) ------------------------------------------------------------------


def _flat(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in values.items():
        key = f"{prefix}_{name}" if prefix else name
        if isinstance(value, dict):
            flat.update(_flat(key, value))
        else:
            flat[key] = value
    return flat


def flat_rows(report: ComplianceReport) -> list[dict[str, Any]]:
    """One flat row per group: its dimensions, then every figure."""
    rows = []
    for nested in group_dicts(report):
        dimensions = nested.pop("group")
        rows.append({**dimensions, **_flat("", nested)})
    return rows


def columns(report: ComplianceReport) -> list[str]:
    """The CSV header: the grouping dimensions, then the figures (fixed order)."""
    template = group_dict(report, GroupFigures(key=tuple("" for _ in report.request.group_by)))
    template.pop("group")
    return [d.value for d in report.request.group_by] + list(_flat("", template))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def spreadsheet_safe(text: str) -> str:
    """`text` as a spreadsheet shows it, never runs it: a cell that would start a
    formula gets a leading `'` (OWASP, CSV injection); a plain number stays one."""
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return value


def to_csv(report: ComplianceReport) -> str:
    """The report as CSV: a header, then one line per group."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = columns(report)
    writer.writerow(names)
    for row in flat_rows(report):
        writer.writerow([_cell(row[name]) for name in names])
    return out.getvalue()
