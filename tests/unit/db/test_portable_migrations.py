"""A portable migration renders, per dialect, exactly the statements that were released.

`tests/golden/migrations/<dialect>/` holds, verbatim, every dialect file a portable
template replaced (ADR 75, the schema declared once). Each template, rendered in a
dialect and split as yoyo splits a `.sql` file, must give that file's statements as
yoyo reads them, to the letter: a landed migration never changes what it does, so
editing a template (or a dialect's word for a placeholder) fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from yoyo.migrations import read_sql_migration

from cases.db import schema

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "migrations"

# Every migration id released before the templates, in the order yoyo applied them.
RELEASED_IDS = [
    "0001_projection_tracking",
    "0002_case_projections",
    "0003_billing_projections",
    "0004_idempotency_keys",
    "0005_case_queue_status_severity_updated",
    "0006_service_levels",
    "0007_sealed_compliance_figures",
    "0008_idempotency_steps",
    "0009_audit_log_tree",
    "0010_subject_keys",
    "0011_subject_keys_erased",
    "0012_customer_directory",
    "0013_outbox",
    "0014_vendor_side",
    "0015_audit_log_webhook",
    "0017_case_queue_vendor_attention",
    "0019_subject_keys_schema",
    "0020_outbox_periods_and_retention",
    "0022_service_levels_escalations_recorded",
    "0023_sealed_vehicle_cells",
]


def _released(dialect: str, migration_id: str) -> list[str]:
    _, _, statements = read_sql_migration(str(GOLDEN / dialect / f"{migration_id}.sql"))
    return list(statements)


@pytest.mark.parametrize("dialect", schema.DIALECTS)
def test_every_template_has_the_released_files_of_both_dialects(dialect: str) -> None:
    goldens = sorted(p.stem for p in (GOLDEN / dialect).glob("*.sql"))
    assert goldens, f"no golden migrations in {GOLDEN / dialect}"
    assert sorted(schema.portable_statements(dialect)) == goldens


@pytest.mark.parametrize("dialect", schema.DIALECTS)
@pytest.mark.parametrize(
    "migration_id", sorted(p.stem for p in (GOLDEN / "postgres").glob("*.sql"))
)
def test_a_template_renders_the_released_statements(dialect: str, migration_id: str) -> None:
    rendered = schema.portable_statements(dialect)[migration_id]
    assert rendered == _released(dialect, migration_id)


@pytest.mark.parametrize("dialect", schema.DIALECTS)
def test_the_released_ids_keep_their_order_and_come_first(dialect: str) -> None:
    ids = [m.id for m in schema.dialect_migrations(dialect)]
    assert ids[: len(RELEASED_IDS)] == RELEASED_IDS
    assert ids == sorted(ids)


def test_a_template_with_a_yoyo_directive_is_refused() -> None:
    with pytest.raises(ValueError, match="no yoyo directive"):
        schema.split_statements("-- depends: 0001_projection_tracking\nSELECT 1;")


def test_both_dialects_have_a_word_for_every_placeholder() -> None:
    assert set(schema.DIALECT_WORDS["postgres"]) == set(schema.DIALECT_WORDS["sqlite"])
