"""The compliance report over a year of a million cases on PostgreSQL: median ms.

Run from the repository root:

    .venv/bin/python -m benchmarks.compliance_report [--cases 1000000] [--runs 7]
        [--template-events 60000]

In a throwaway PostgreSQL database (dropped afterwards, even on error):

1. **Real facts first.** A support history of `--template-events` events is
   recorded through the domain commands (`BulkWriter`), and the `service_levels`
   projection is caught up on it by its ordinary runner. Its rows are what the
   projection makes of real clock facts.
2. **Synthetic rows of that shape.** The cases of that history that were
   received at least 30 days before it ended (so their stories are finished) are
   the templates: case *i* of `--cases` copies template *i mod T* with every
   moment shifted so that it is received at an even spacing through the year
   (`--year`, 2027 unless given), a new id, one of 5 000 customers (a few busy,
   most quiet) and up to a second of jitter on each duration; its next-update,
   escalation and breach rows are copied with it. So the synthetic tables have
   the real ones' columns, null patterns, proportions (rows per case, breaches,
   escalations) and durations; the script prints the proportions of both. The
   rows are inserted with SQL (`INSERT ... SELECT` from the templates), not
   recorded as events: recording a million cases' events would take hours and
   measure something else.
3. `VACUUM ANALYZE` (autovacuum is off on the benchmark server), then the
   sealed cells (ADR 30) as the service-levels projection would have sealed them
   had it projected the synthetic rows: at every UTC month start from December
   2026 to the last one an hour before the latest recorded moment. The time of
   all the seals (a bulk fill seals every month over the rows touched since the
   month before, which here are all later rows) and of the last one alone, as
   the projection makes it once a month, are printed.
4. Each report variant (ungrouped; by month, severity, customer, category,
   vehicle; by month and severity, vehicle, customer) is computed `--runs`
   times through `ComplianceReportView.report` (all its statements and the
   conversion to dataclasses), after one warm-up, with the heap settled as the
   API server settles it (`settle_after_start`, ADR 25), twice: as the API and `cases
   report` run it (from the sealed cells where they serve the report, otherwise
   from the rows with the statements at once on four connections sharing a
   snapshot), and from the rows only, at once on four connections (the baseline,
   as every report ran before ADR 30); the median and the slowest are printed,
   for the year as of a moment after every fact, and as of two past moments:
   July 1st (a seal before the latest, served from its cells, ADR 63),
   July 16th 12:00 and 31st 23:00 (between two seals: from the earlier seal's
   cells and the later one's changes by moment, ADR 84; by customer alone and
   with month too, ADR 85), and the ratio of the two medians. Beside them, the
   median CPU time the first PostgreSQL backend spent (from /proc, when the server
   is local): on a busy machine wall time also counts waiting for a
   core; and the median time the API then takes to write the report's JSON
   (`ComplianceReportOut.json_of`), not counted in the ratio.

PostgreSQL: the server named by CASES_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from benchmarks.projections_catch_up import open_log, throwaway_database

from cases.api.schemas.reports import ComplianceReportOut
from cases.db.database import ProjectionDatabase, as_moment
from cases.db.schema import migrate
from cases.db.statement import sql
from cases.followers.catalog import projection_named
from cases.followers.runner import ProjectionRunner
from cases.heap import settle_after_start
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.projections.projection import LIVE
from cases.reports.compliance_report import ComplianceReportView, ReportRequest
from cases.reports.compliance_seal import (
    GRACE,
    add_seal,
    month_start,
    next_month,
    reseal,
    seal_state,
)
from cases.reports.compliance_sql import Dimension
from cases.reports.compliance_statements import Helpers
from cases.reports.service_levels import (
    BREACH_COLUMNS,
    CASE_COLUMNS,
    ESCALATION_COLUMNS,
    UPDATE_COLUMNS,
)
from tests.support.history import BulkWriter, SupportHistory

ADMIN_URL = os.environ.get(
    "CASES_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class Year:
    """The synthetic year and the moments the reports are asked as of."""

    year: int = 2027

    @property
    def period(self) -> tuple[datetime, datetime]:
        return datetime(self.year, 1, 1, tzinfo=UTC), datetime(self.year + 1, 1, 1, tzinfo=UTC)

    @property
    def after_everything(self) -> datetime:
        """After every fact: the templates' (recorded in 2026) and the year's."""
        return datetime(max(self.year + 1, 2027), 6, 1, tzinfo=UTC)

    @property
    def mid_year(self) -> datetime:
        return datetime(self.year, 7, 1, tzinfo=UTC)  # a seal

    @property
    def mid_july(self) -> datetime:
        return datetime(self.year, 7, 16, 12, tzinfo=UTC)  # between two seals (ADR 63)

    @property
    def late_july(self) -> datetime:
        """Between two seals, an hour before the later (ADR 84: its most changes)."""
        return datetime(self.year, 7, 31, 23, tzinfo=UTC)

    @property
    def first_seal(self) -> datetime:
        """The month start before the year (the first seal holds everything before)."""
        return datetime(self.year - 1, 12, 1, tzinfo=UTC)


CUSTOMERS = 5000
TARGET_MS = 1000.0
D = Dimension
VARIANTS: list[tuple[Dimension, ...]] = [
    (),
    (D.MONTH,),
    (D.SEVERITY,),
    (D.CUSTOMER,),
    (D.CATEGORY,),
    (D.VEHICLE,),
    (D.MONTH, D.SEVERITY),
    (D.MONTH, D.VEHICLE),
    (D.MONTH, D.CUSTOMER),
]
TABLES = {
    "service_level_cases": CASE_COLUMNS,
    "service_level_updates": UPDATE_COLUMNS,
    "service_level_escalations": ESCALATION_COLUMNS,
    "service_level_breaches": BREACH_COLUMNS,
}


def record_templates(url: str, events: int) -> None:
    """Real clock facts: a history through the domain, projected by the runner."""
    log = open_log(url)
    try:
        history = SupportHistory(seed=3, customers=400, cases_per_day=30, agents=20)
        started = time.perf_counter()
        history.record(BulkWriter(log, chunk=5_000), events)
        db = ProjectionDatabase(parse_database_url(url))
        try:
            applied = ProjectionRunner(log, projection_named("service_levels"), db).catch_up()
        finally:
            db.close()
        print(
            f"  recorded {history.events:,} events of {history.cases:,} cases and projected "
            f"{applied:,} facts in {time.perf_counter() - started:.0f} s"
        )
    finally:
        log.close()


def _expression(column: str) -> str:
    """How a synthetic row's column is made from its template's (`c`) and the
    synthetic case (`s`)."""
    if column == "case_id":
        return "s.case_id"
    if column == "customer_id":
        return "s.customer_id"
    if column == "month":
        return "to_char((c.received_at + s.shift) AT TIME ZONE 'Europe/Stockholm', 'YYYY-MM')"
    if column.endswith("_at"):
        return f"c.{column} + s.shift"
    if column.endswith("_us"):
        return f"c.{column} + (random() * 1000000)::bigint"
    return f"c.{column}"


def fill_synthetic(db: ProjectionDatabase, cases: int, year: Year) -> None:
    """`cases` synthetic cases through the year, copied from finished templates."""
    start, end = year.period
    spacing = (end - start) / cases
    db.execute("SELECT setseed(0.42)")
    db.execute(
        "CREATE TABLE bench_templates AS SELECT row_number() OVER (ORDER BY received_at, case_id)"
        " - 1 AS k, case_id, received_at FROM service_level_cases "
        "WHERE received_at < (SELECT max(received_at) - interval '30 days' "
        "FROM service_level_cases)"
    )
    templates = int((db.fetchone("SELECT count(*) FROM bench_templates") or (0,))[0])
    db.execute(
        sql(
            "CREATE TABLE bench_cases AS SELECT md5('synthetic-' || i)::uuid AS case_id, "
            "t.case_id AS template, "
            "({}::timestamptz + i * {}::interval) - t.received_at AS shift, "
            "'customer-' || lpad(floor({} * power(random(), 2))::int::text, 5, '0') "
            "AS customer_id "
            "FROM generate_series(0, {} - 1) i JOIN bench_templates t ON t.k = mod(i, {})"
        ),
        (start, spacing, CUSTOMERS, cases, templates),
    )
    db.execute("CREATE INDEX ON bench_cases (template)")
    for table, columns in TABLES.items():
        started = time.perf_counter()
        db.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {', '.join(_expression(c) for c in columns)} "
            f"FROM bench_cases s JOIN {table} c ON c.case_id = s.template"
        )
        print(f"  filled {table} in {time.perf_counter() - started:.0f} s")
    print(f"  {cases:,} synthetic cases from {templates:,} templates")


def proportions(db: ProjectionDatabase, label: str, where: str) -> None:
    """Rows per case of each table, and how many clocks were breached, for one
    set of cases (real or synthetic)."""
    cases = int((db.fetchone(f"SELECT count(*) FROM service_level_cases WHERE {where}") or (0,))[0])
    parts = []
    for table in ("service_level_updates", "service_level_escalations", "service_level_breaches"):
        found = db.fetchone(f"SELECT count(*) FROM {table} WHERE {where}") or (0,)
        parts.append(f"{table.removeprefix('service_level_')} {int(found[0]) / cases:.3f}")
    fr = db.fetchone(
        "SELECT avg(CASE WHEN fr_fulfilled_recorded_at IS NULL THEN 0 ELSE 1 END), "
        f"avg(CASE WHEN res_fulfilled_recorded_at IS NULL THEN 0 ELSE 1 END) "
        f"FROM service_level_cases WHERE {where}"
    ) or (0, 0)
    print(
        f"  {label:<9} {cases:>9,} cases; per case: {', '.join(parts)}; "
        f"first response fulfilled {float(fr[0]):.3f}, resolved {float(fr[1]):.3f}"
    )


class BackendCpu:
    """CPU seconds the PostgreSQL backend of `db` has used, read from /proc when
    the server runs on this machine (less sensitive to a busy machine than wall
    time); None otherwise."""

    def __init__(self, db: ProjectionDatabase) -> None:
        found = db.fetchone("SELECT pg_backend_pid()")
        self.stat = f"/proc/{found[0] if found else 0}/stat"
        self.tick = os.sysconf("SC_CLK_TCK")

    def __call__(self) -> float | None:
        try:
            with open(self.stat) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.tick


class Lent:
    """Lends connections to the report's database, opened once and kept (the
    shared server may refuse new ones while other benchmarks hold its slots)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.idle: queue.SimpleQueue[ProjectionDatabase] = queue.SimpleQueue()
        self.opened: list[ProjectionDatabase] = []

    @contextlib.contextmanager
    def __call__(self) -> Iterator[ProjectionDatabase]:
        try:
            db = self.idle.get_nowait()
        except queue.Empty:
            db = ProjectionDatabase(parse_database_url(self.url))
            self.opened.append(db)
        try:
            yield db
        finally:
            self.idle.put(db)

    def close(self) -> None:
        for db in self.opened:
            db.close()


def time_variants(
    db: ProjectionDatabase, runs: int, helpers: Helpers | None, year: Year, *, sealed: bool
) -> list[tuple[str, float, float]]:
    view = ComplianceReportView(db, helpers=helpers, sealed=sealed)
    cpu = BackendCpu(db)
    requests = [(v, year.after_everything) for v in VARIANTS] + [
        ((), year.mid_year),
        *(
            (group_by, year.mid_july)
            for group_by in [
                (),
                (D.MONTH,),
                (D.SEVERITY,),
                (D.CATEGORY,),
                (D.VEHICLE,),
                (D.MONTH, D.SEVERITY),
                (D.MONTH, D.VEHICLE),
                (D.CUSTOMER,),
                (D.MONTH, D.CUSTOMER),
            ]
        ),
        ((), year.late_july),
        ((D.MONTH, D.SEVERITY), year.late_july),
        ((D.VEHICLE,), year.late_july),
        ((D.CUSTOMER,), year.late_july),
        ((D.MONTH, D.CUSTOMER), year.late_july),
    ]
    results = []
    for group_by, as_of in requests:
        request = ReportRequest(*year.period, as_of, group_by)
        report = view.report(request)  # warm-up
        seconds, cpu_seconds, json_seconds = [], [], []
        for _ in range(runs):
            cpu_before = cpu()
            started = time.perf_counter()
            report = view.report(request)
            seconds.append(time.perf_counter() - started)
            cpu_after = cpu()
            if cpu_before is not None and cpu_after is not None:
                cpu_seconds.append(cpu_after - cpu_before)
            started = time.perf_counter()
            ComplianceReportOut.json_of(report)
            json_seconds.append(time.perf_counter() - started)
        label = "+".join(d.value for d in group_by) or "(none)"
        if as_of == year.mid_year:
            label += " as of 07-01"
        elif as_of == year.mid_july:
            label += " as of 07-16 12:00"
        elif as_of == year.late_july:
            label += " as of 07-31 23:00"
        median_ms, worst_ms = statistics.median(seconds) * 1000, max(seconds) * 1000
        cpu_ms = f"{statistics.median(cpu_seconds) * 1000:6.0f}" if cpu_seconds else "     -"
        cases = sum(g.cases for g in report.groups)
        print(
            f"  {label:<28} {len(report.groups):>5} groups {cases:>10,} case rows  "
            f"median {median_ms:6.0f} ms  slowest {worst_ms:6.0f} ms  "
            f"server CPU {cpu_ms} ms  then JSON {statistics.median(json_seconds) * 1000:5.0f} ms",
            flush=True,
        )
        results.append((label, median_ms, worst_ms))
    return results


@contextlib.contextmanager
def _database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with throwaway_database(ADMIN_URL) as throwaway:
        yield throwaway


def prepare(url: str, db: ProjectionDatabase, cases: int, template_events: int, year: Year) -> None:
    migrate(parse_database_url(url))
    print("Templates: a history recorded through the domain and projected")
    record_templates(url, template_events)
    print("Synthetic rows (SQL copies of the templates, NOT recorded as events)")
    fill_synthetic(db, cases, year)
    started = time.perf_counter()
    db.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")


def seal_as_projected(db: ProjectionDatabase, year: Year) -> None:
    """Seal where the projection would have, had it projected the synthetic rows:
    each month start from December 2026 (the first seal holds everything before)
    to the last one an hour before the latest recorded moment."""
    latest = max(
        as_moment(found[0])
        for table in ("service_level_cases", "service_level_updates", "service_level_escalations")
        if (found := db.fetchone(f"SELECT max(last_recorded_at) FROM {table}")) is not None
    )
    moments = [year.first_seal]
    while next_month(moments[-1]) <= month_start(latest - GRACE):
        moments.append(next_month(moments[-1]))
    started = time.perf_counter()
    with db.transaction():
        reseal(db, LIVE, moments[:-1], latest)
    earlier = time.perf_counter() - started
    # The last in a transaction of its own, as the projection makes it: in the bulk
    # transaction above it took several times as long (ADR 84 amendment).
    started = time.perf_counter()
    with db.transaction():
        add_seal(db, LIVE, moments[-1], moments[-2])
    last = time.perf_counter() - started
    print(
        f"Sealed the cells as of {len(moments)} month starts, {moments[0]:%Y-%m-%d} to "
        f"{moments[-1]:%Y-%m-%d} (latest fact {latest:%Y-%m-%d %H:%M}), "
        f"in {earlier + last:.1f} s"
    )
    print(f"  the last month's seal alone, as the projection makes it: {last:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--template-events", type=int, default=60_000)
    parser.add_argument(
        "--database",
        help="an existing empty PostgreSQL database to fill and keep (filled once: a "
        "second run only times the reports); default: a throwaway one",
    )
    parser.add_argument(
        "--year",
        type=int,
        default=2027,
        help="the synthetic year (a past one lets the API and the dashboard serve it)",
    )
    parser.add_argument(
        "--keep-seals",
        action="store_true",
        help="with --database: keep the seals an earlier run made instead of sealing again",
    )
    args = parser.parse_args(argv)
    year = Year(args.year)
    configure_logging("WARNING")
    with _database(args.database) as url:
        db = ProjectionDatabase(parse_database_url(url))
        helpers = Lent(url)
        try:
            if db.fetchone("SELECT to_regclass('bench_cases')") in (None, (None,)):
                prepare(url, db, args.cases, args.template_events, year)
            start, end = year.period
            synthetic = f"received_at >= '{start:%Y-%m-%d}' AND received_at < '{end:%Y-%m-%d}'"
            proportions(db, "real", f"NOT ({synthetic})")
            proportions(db, "synthetic", synthetic)
            if not (args.keep_seals and seal_state(db, LIVE)):
                seal_as_projected(db, year)
            settle_after_start()  # the heap as the API server keeps it (ADR 25)
            timed = {}
            modes = {
                True: "as the API and `cases report` run them: the sealed cells where they "
                "serve, else the rows with the statements at once on four connections",
                False: "from the rows only, statements at once on four connections "
                "(the baseline: as before ADR 30)",
            }
            for sealed, mode in modes.items():
                print(
                    f"Reports on {year.year}, {mode}: median of {args.runs} runs "
                    f"(target < {TARGET_MS:.0f} ms); server CPU: the first connection's"
                )
                timed[sealed] = time_variants(db, args.runs, helpers, year, sealed=sealed)
        finally:
            helpers.close()
            db.close()
    print("Ratio, from the rows only / as run (same machine, same run):")
    for (label, median_ms, _), (_, baseline_ms, _) in zip(timed[True], timed[False], strict=True):
        print(f"  {label:<28} {baseline_ms / median_ms:5.1f}x")
    slow = [label for label, median_ms, _ in timed[True] if median_ms >= TARGET_MS]
    print("All variants under the target." if not slow else f"Over the target: {slow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
