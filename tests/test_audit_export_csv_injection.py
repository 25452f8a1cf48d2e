"""SPEC "Pages": CSV exports neutralise cells a spreadsheet would run as a formula (OWASP CSV
injection), and the offline verifier still checks such a file."""

from __future__ import annotations

import csv
import io

import pytest

from compliance import services
from compliance.audit.csvcells import neutralise_cell, restore_cell
from compliance.audit.export import iter_export
from compliance.audit.offline import parse_csv_row, verify_lines
from compliance.models import AuditRecord
from tests.factories import make_release

pytestmark = pytest.mark.postgres

TRIGGERS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("value", [*TRIGGERS, "'quoted", "''twice"])
def test_neutralised_cells_start_safe_and_round_trip(value):
    cell = neutralise_cell(value)
    assert cell.startswith("'")
    assert restore_cell(cell) == value


@pytest.mark.parametrize("value", ["plain", "a=b", "", 42, None])
def test_other_cells_pass_unchanged(value):
    assert neutralise_cell(value) == value


def test_csv_export_writes_no_live_formula_and_still_verifies(staff, agencies):
    release = make_release(staff, agencies=agencies)
    for reason in TRIGGERS:
        services.transition_release(release, to="retired", actor=staff, reason=reason) if (
            reason == TRIGGERS[-1]
        ) else services.update_release(release, actor=staff, reason=reason, name=reason[:50])
    text = "".join(iter_export(AuditRecord.objects.order_by("seq"), "csv"))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    reasons = [r["reason"] for r in rows]
    for reason in TRIGGERS:
        assert "'" + reason in reasons
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    result = verify_lines(parse_csv_row(r) for r in rows)
    assert result["ok"] is True and result["checked"] == len(rows)
