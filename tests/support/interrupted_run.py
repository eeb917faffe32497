"""A test run made to be interrupted, by tests/integration/test_interrupted_runs.py.

It is not collected with the suite (its name does not start with `test_`); that
test runs it in a pytest of its own, which it then interrupts or kills:

    INTERRUPTED_RUN_DATABASE_URL=... INTERRUPTED_RUN_READY=path \\
        python -m pytest tests/support/interrupted_run.py

The test starts what the suite starts, through the same helper: a server and a
`cases projections run` beside it (on PostgreSQL `cases serve --workers 2`, whose
workers are grandchildren), writes the server's URL to the ready file, and waits
to be killed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cases.persistence.database_url import StoreKind, parse_database_url
from tests.support.server import serving


def test_serve_until_interrupted(tmp_path: Path) -> None:
    database_url = os.environ["INTERRUPTED_RUN_DATABASE_URL"]
    ready = Path(os.environ["INTERRUPTED_RUN_READY"])
    postgres = parse_database_url(database_url).kind is StoreKind.POSTGRES
    with serving(database_url, tmp_path, workers=2 if postgres else 1, projections=True) as server:
        ready.write_text(server.url)
        threading.Event().wait()  # until the run is interrupted
