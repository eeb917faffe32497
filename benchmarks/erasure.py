"""Erasing a data subject whose case has 1 000 events, and reading it afterwards.

Run: .venv/bin/python benchmarks/erasure.py [--events 1000] [--subjects 5]

On a SQLite file with a master key (ADR 0044): each subject is a case taken in
and given notes until it has `--events` events; then, per subject, the time of
`PrivacyOffice.erase` (record the erasure, throw the key away) and of the first
full load of the case afterwards (latest snapshot plus replay, every personal
field read as the placeholder). Medians over the subjects.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if not __package__:  # run as a script: import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import NOTES, support_terms, take_in

from cases.application.caller import Caller
from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role, Source
from cases.persistence.database_url import parse_database_url
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AGENT = Caller.new(Actor("agent-anna", Role.HELPDESK_AGENT), Source.API)
ADMIN = Caller.new(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN), Source.API)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--subjects", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cases-bench-") as tmp:
        url = f"sqlite:///{tmp}/cases.db"
        migrate(parse_database_url(url))
        settings = Settings(
            database_url=url,
            data_dir=Path(tmp),
            master_key=MasterKey.generate().as_text(),  # type: ignore[arg-type]
        )
        clock = ManualClock(START)
        services = bootstrap(settings, clock)
        erase_ms: list[float] = []
        load_ms: list[float] = []
        try:
            services.desk.publish_terms(AGENT, support_terms(), effective_from=START)
            for s in range(args.subjects):
                case_id = take_in(services.desk, AGENT, "contoso", "Exchange Online", clock.now())
                while services.desk.case(case_id).version < args.events:
                    clock.advance(timedelta(seconds=1))
                    services.desk.handle(AGENT, case_id, cmd.AddNote(NOTES[s % len(NOTES)]))
                started = time.perf_counter()
                services.privacy.erase(ADMIN, case_id, "Article 17 request (benchmark)")
                erase_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                services.desk.case(case_id)
                load_ms.append((time.perf_counter() - started) * 1000)
        finally:
            services.close()
    print(
        f"Erasure of a subject with {args.events} events, median of {args.subjects}: "
        f"erase {statistics.median(erase_ms):.1f} ms, "
        f"first load after {statistics.median(load_ms):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
