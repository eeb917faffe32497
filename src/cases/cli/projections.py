"""`cases projections …` and `cases migrate`: keep the read models up to date.

Every command refuses, in one line, a store it cannot use: a bad setting, an
unreachable database, the in-memory store, or a schema older than the code
(`run cases migrate`). Exit code 2 for those, 1 for a refused request. The one
exception is `projections run` on PostgreSQL without `--once`: like the server,
it waits for a database it cannot reach yet, with backoff and a log line per
attempt, until the database answers or it is stopped (ADR 0034).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from types import FrameType
from typing import Annotated

import structlog
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cases.cli.groups import command_group
from cases.cli.services import cli_settings, fail, read_model_store
from cases.cli.stores import STORE_ERRORS, first_line, store_or_exit
from cases.clock import SystemClock
from cases.db.database import ProjectionDatabase, open_projection_db, open_runner_db
from cases.db.schema import SchemaBehindError, check_schema_current, migrate
from cases.followers.advisory_loop import advisory_loop
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.in_process import InProcessProjections
from cases.followers.leadership import Leadership
from cases.followers.outbox import OUTBOX, outbox_runners
from cases.followers.partitions import SERVICE_LEVELS, PartitionRunner, catch_up_partitioned
from cases.followers.rebuild import RebuildInProgressError, rebuild
from cases.followers.runner import ProjectionRunner, RunnerLoop, catch_up_batch
from cases.followers.status import projection_status
from cases.followers.tree_builder import TREE, tree_builders
from cases.heap import settle_after_start
from cases.observability.exposition import process_metrics_server
from cases.persistence.database_url import DatabaseUrl, StoreKind
from cases.persistence.event_log import EventLog
from cases.persistence.store import StoreUnavailableError, open_event_log
from cases.projections.layout import PARTITIONABLE, LayoutError, Partition, layout
from cases.projections.projection import LIVE
from cases.reports.compliance_seal import keep_moments, lock_seals
from cases.reports.service_levels import ServiceLevelsProjection
from cases.settings import Settings

projections_app = command_group(
    "Keep the read models (projections) up to date, and see how far behind they are."
)

FIRST_WAIT = 0.5  # seconds before the second attempt to reach the database
LONGEST_WAIT = 5.0  # seconds between attempts at most

logger = structlog.get_logger("cases.projections")


def _configured(quiet: bool) -> tuple[Settings, DatabaseUrl]:
    """The settings and the store they name, or a one-line error (exit 2)."""
    settings = cli_settings(quiet)
    return settings, read_model_store(settings, "projections")


@dataclass
class ProjectionStore:
    settings: Settings
    log: EventLog
    db: ProjectionDatabase

    def close(self) -> None:
        self.db.close()
        self.log.close()


@contextmanager
def projection_store(*, quiet: bool = True) -> Iterator[ProjectionStore]:
    """The event log and the projection database, on a current schema."""
    settings, url = _configured(quiet)
    with store_or_exit(url):
        store = _open_store(settings, url)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def waiting_projection_store(stopping: threading.Event) -> Iterator[ProjectionStore | None]:
    """`projection_store`, but on PostgreSQL a database that cannot be reached yet
    is tried again, with backoff and a log line per attempt, until it answers
    (None if `stopping` is set first). A schema older than the code still fails."""
    settings, url = _configured(quiet=False)
    if url.kind is not StoreKind.POSTGRES:
        with projection_store(quiet=False) as store:
            yield store
        return
    attempt, wait = 1, FIRST_WAIT
    while True:
        try:
            store = _open_store(settings, url)
        except SchemaBehindError as e:
            fail(str(e), 2)
        except (StoreUnavailableError, *STORE_ERRORS) as e:
            logger.warning(
                "database_unreachable", attempt=attempt, retry_in=wait, reason=first_line(e)
            )
            if stopping.wait(wait):
                yield None
                return
            attempt, wait = attempt + 1, min(wait * 2, LONGEST_WAIT)
            continue
        if attempt > 1:
            logger.info("database_reached", attempt=attempt)
        break
    try:
        yield store
    finally:
        store.close()


def _open_store(settings: Settings, url: DatabaseUrl) -> ProjectionStore:
    check_schema_current(url)
    log = open_event_log(settings)
    try:
        db = open_projection_db(settings)
    except BaseException:
        log.close()
        raise
    return ProjectionStore(settings, log, db)


def _chosen(names: list[str] | None) -> list[str]:
    chosen = names or sorted(PROJECTIONS)
    for name in chosen:
        try:
            projection_named(name)
        except LookupError as e:
            fail(str(e), 1)
    return chosen


CatchUpBatchSize = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Events per transaction on PostgreSQL while at least that many wait "
        "(default: five times --batch-size where one projection catches up alone, "
        "as `rebuild`, `run --once` and `run --partition` do; else --batch-size; ADR 89).",
    ),
]


def _catch_up_batch_size(batch_size: int, catch_up_batch_size: int | None) -> int | None:
    """The catch-up batch asked for (None: not asked); an exit (2) if it is smaller
    than the batch size."""
    if catch_up_batch_size is not None and catch_up_batch_size < batch_size:
        fail(
            f"--catch-up-batch-size ({catch_up_batch_size}) must be at least "
            f"--batch-size ({batch_size})",
            2,
        )
    return catch_up_batch_size


# Commands ---------------------------------------------------------------------------


def migrate_command() -> None:
    """Apply the schema migrations the configured store is missing."""
    _, url = _configured(quiet=True)
    with store_or_exit(url, "migrate"):
        if url.path is not None:
            url.path.parent.mkdir(parents=True, exist_ok=True)
        applied = migrate(url)
    if not applied:
        print(f"The schema of {url.describe()} is up to date; nothing to apply.")
        return
    print(f"Applied {len(applied)} migrations to {url.describe()}:")
    for migration in applied:
        print(f"  {migration}")


@projections_app.command("run")
def run_command(  # noqa: PLR0917 - typer takes each option as a parameter
    names: Annotated[
        list[str] | None, typer.Argument(help="Projections to run (default: all).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Catch up, then exit.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per transaction.")] = 1000,
    catch_up_batch_size: CatchUpBatchSize = None,
    poll_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between polls of the log when idle.")
    ] = 0.2,
    audit_log: Annotated[
        bool,
        typer.Option(
            "--audit-log/--no-audit-log",
            help="Also keep the audit log's Merkle tree and issue its checkpoints (ADR 43).",
        ),
    ] = True,
    outbox: Annotated[
        bool,
        typer.Option(
            "--outbox/--no-outbox",
            help="Also queue the messages recorded events ask for in the outbox (ADR 50) "
            "when no projection is named; `cases outbox run` delivers them.",
        ),
    ] = True,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Serve this process's own counters (events and batches applied, by "
            "projection) on http://HOST:PORT/metrics for Prometheus (not with --once).",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="The address --metrics-port listens on.")
    ] = "127.0.0.1",
    partition: Annotated[
        str | None,
        typer.Option(
            help="Run only partition k/n of the service levels (say 0/2), on PostgreSQL, "
            "once `rebuild service_levels --partitions n` made n partitions keep them; "
            "a run without it seals beside them (ADR 90). Alone in its process, it takes "
            "catch-up batches while far behind, as --once does.",
        ),
    ] = None,
) -> None:
    """Follow the event log and keep the projections up to date (until Ctrl-C).

    On PostgreSQL it waits for a database it cannot reach yet (not with --once)."""
    chosen = _chosen(names)
    outbox = outbox and not names
    catch_up = _catch_up_batch_size(batch_size, catch_up_batch_size)
    if partition is not None:
        _run_partition(
            _partition(partition, chosen if names else None),
            once=once,
            batch_size=batch_size,
            catch_up=catch_up,
            poll_interval=poll_interval,
        )
        return
    if once:
        # One projection after another, each alone: in catch-up batches by default.
        with projection_store(quiet=True) as store:
            for name in chosen:
                _catch_up_once(store, name, batch_size, catch_up_batch(batch_size, catch_up))
            if audit_log:
                _tree_once(store, batch_size)
            if outbox:
                _outbox_once(store, batch_size)
        return
    with (
        _stop_signals() as stopping,
        process_metrics_server(metrics_host, metrics_port) as bound,
        waiting_projection_store(stopping) as reached,
    ):
        if bound is not None:
            print(f"Metrics on http://{metrics_host}:{bound}/metrics", flush=True)
        if reached is None:
            print("Stopped.")
            return
        open_db = partial(open_runner_db, reached.settings)
        tree = (
            tree_builders(
                reached.settings, reached.log, open_db, create_key=False, webhook_db=open_db
            )
            if audit_log
            else None
        )
        runners = InProcessProjections(
            reached.log,
            open_db,
            chosen,
            batch_size=batch_size,
            catch_up_batch_size=catch_up,
            poll_interval=poll_interval,
            tree=tree,
            vendor=advisory_loop(reached.settings, reached.log, open_db),
            outbox=outbox_runners(reached.settings, reached.log, open_db, batch_size=batch_size)
            if outbox
            else None,
        )
        _run_until_stopped(runners, stopping)


def _partition(text: str, names: list[str] | None) -> Partition:
    """The partition `--partition` names, or an exit (2)."""
    if names is not None and names != [SERVICE_LEVELS]:
        fail(f"--partition runs a partition of {SERVICE_LEVELS} only, not {', '.join(names)}", 2)
    try:
        return Partition.parse(text)
    except ValueError as e:
        fail(f"--partition: {e}", 2)


def _run_partition(
    partition: Partition, *, once: bool, batch_size: int, catch_up: int | None, poll_interval: float
) -> None:
    """Keep one partition of the service levels (until stopped, or `once`); like
    `run`, it waits for a database it cannot reach yet (not with `once`)."""
    name = partition.tracking_name(SERVICE_LEVELS)
    # Alone in its process: in catch-up batches while far behind (ADR 89), by default.
    catch_up = catch_up_batch(batch_size, catch_up)
    if once:
        with projection_store(quiet=True) as store:
            runner = _partition_runner(store.log, store.db, partition, batch_size, catch_up)
            applied = _once_if_leading(store, name, runner.catch_up)
            if applied is not None:
                print(f"{name}: applied {applied} events; at position {runner.position}.")
        return
    with _stop_signals() as stopping, waiting_projection_store(stopping) as reached:
        if reached is None:
            print("Stopped.")
            return
        _partition_runner(reached.log, reached.db, partition, batch_size, catch_up)  # refused?
        open_db, log = partial(open_runner_db, reached.settings), reached.log
        loop = RunnerLoop(
            lambda: PartitionRunner(
                log, open_db(), partition, batch_size=batch_size, catch_up_batch_size=catch_up
            ),
            poll_interval=poll_interval,
        )
        failures: list[Exception] = []
        thread = threading.Thread(
            target=_keep_failure(loop.run, failures), name=f"projection-{name}", daemon=True
        )
        thread.start()
        print(f"Running {name}; Ctrl-C to stop.", flush=True)
        while not stopping.wait(0.2) and thread.is_alive():
            pass
        loop.stop()
        thread.join()
    if failures:  # its layout changed under it, say (a rebuild's swap)
        fail(f"{name} stopped: {first_line(failures[0])}", 1)
    print("Stopped.")


def _partition_runner(
    log: EventLog,
    db: ProjectionDatabase,
    partition: Partition,
    batch_size: int,
    catch_up: int | None,
) -> PartitionRunner:
    """A runner of `partition`, or an exit (2) naming why there can be none."""
    try:
        return PartitionRunner(
            log, db, partition, batch_size=batch_size, catch_up_batch_size=catch_up
        )
    except LayoutError as e:
        fail(str(e), 2)


def _keep_failure(run: Callable[[], None], failures: list[Exception]) -> Callable[[], None]:
    """`run`, an exception it raises kept in `failures` (a thread has no caller)."""

    def running() -> None:
        try:
            run()
        except Exception as e:
            logger.exception("projection_stopped")
            failures.append(e)

    return running


def _catch_up_once(store: ProjectionStore, name: str, batch_size: int, catch_up: int) -> None:
    parts = layout(store.db, name) if name in PARTITIONABLE and store.db.is_postgres else 1
    if parts > 1:
        applied = _once_if_leading(
            store,
            name,
            lambda: catch_up_partitioned(
                store.log, store.db, parts, batch_size=batch_size, catch_up_batch_size=catch_up
            ),
        )
        if applied is not None:
            print(f"{name}: its {parts} partitions applied {applied} events, and sealed.")
        return
    runner = ProjectionRunner(
        store.log,
        projection_named(name),
        store.db,
        batch_size=batch_size,
        catch_up_batch_size=catch_up,
    )
    applied = _once_if_leading(store, name, runner.catch_up)
    if applied is not None:
        print(f"{name}: applied {applied} events; at position {runner.position}.")


def _tree_once(store: ProjectionStore, batch_size: int) -> None:
    builder = tree_builders(
        store.settings, store.log, lambda: store.db, create_key=False, batch_size=batch_size
    )()
    appended = _once_if_leading(store, TREE, builder.catch_up)
    if appended is not None:
        print(f"{TREE}: appended {appended} events; at position {builder.position}.")


def _outbox_once(store: ProjectionStore, batch_size: int) -> None:
    runner = outbox_runners(store.settings, store.log, lambda: store.db, batch_size=batch_size)()
    applied = _once_if_leading(store, OUTBOX, runner.catch_up)
    if applied is not None:
        print(f"{OUTBOX}: applied {applied} events; at position {runner.position}.")


def _once_if_leading(store: ProjectionStore, name: str, catch_up: Callable[[], int]) -> int | None:
    """What `catch_up()` returns, run while leading `name`; None (said so) when another
    runner leads it."""
    leadership = Leadership(store.db, name)
    if not leadership.try_acquire():
        print(f"{name}: another runner is keeping it up to date; skipped.")
        return None
    try:
        return catch_up()
    finally:
        leadership.release()


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event that SIGINT (Ctrl-C) and SIGTERM set, while the block runs."""
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_until_stopped(runners: InProcessProjections, stopping: threading.Event) -> None:
    try:
        runners.start()
        settle_after_start()
        print(f"Running {', '.join(runners.names)}; Ctrl-C to stop.", flush=True)
        while not stopping.wait(0.2) and not runners.failures:
            pass
    finally:
        runners.stop()
    if runners.failures:
        name, error = next(iter(runners.failures.items()))
        fail(f"projection {name} stopped: {first_line(error)}", 1)
    print("Stopped.")


@projections_app.command("status")
def status_command() -> None:
    """Show each projection's position, the head of the log and the lag."""
    with projection_store() as store:
        statuses = projection_status(store.log, store.db, SystemClock())
    table = Table(title="Projections")
    for column in ("projection", "position", "head", "lag (events)", "lag (seconds)"):
        table.add_column(column, justify="left" if column == "projection" else "right")
    for status in statuses:
        table.add_row(
            status.name,
            str(status.position),
            str(status.head),
            str(status.lag_events),
            f"{status.lag_seconds:.1f}",
        )
    Console().print(table)


@projections_app.command("rebuild")
def rebuild_command(
    name: Annotated[str, typer.Argument(help="The projection to rebuild.")],
    batch_size: Annotated[int, typer.Option(min=1, help="Events per transaction.")] = 1000,
    catch_up_batch_size: CatchUpBatchSize = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Leave this many partitions to keep it after the swap (1: one runner; "
            f"{SERVICE_LEVELS} only, PostgreSQL only; ADR 90). Default: as before.",
        ),
    ] = None,
) -> None:
    """Rebuild a projection into fresh tables while the old ones serve, then swap."""
    [name] = _chosen([name])
    catch_up = _catch_up_batch_size(batch_size, catch_up_batch_size)
    with projection_store() as store, _progress_bar(f"Rebuilding {name}") as update:
        try:
            result = rebuild(
                store.log,
                projection_named(name),
                store.db,
                update,
                batch_size=batch_size,
                catch_up_batch_size=catch_up,  # None: rebuild's default, catch-up batches
                partitions=partitions,
            )
        except LayoutError as e:
            fail(str(e), 2)
        except RebuildInProgressError as e:
            fail(str(e), 1)
    print(f"Rebuilt {name}: applied {result.applied} events; live at position {result.position}.")
    if name == ServiceLevelsProjection.name:
        _keep_moments()


@projections_app.command("keep-moments")
def keep_moments_command() -> None:
    """Keep the compliance seals' changes by moment where the service levels sealed
    a month while catching up: reports between two such seals read the rows until
    then (ADR 84). One seal per transaction; run again after a crash."""
    _keep_moments()


def _keep_moments() -> None:
    with projection_store() as store:
        while True:
            with store.db.transaction():
                lock_seals(store.db, LIVE)  # a sealer beside partitions may keep them too
                kept = keep_moments(store.db, LIVE)
            if kept is None:
                break
            print(f"Kept the changes by moment of the seal at {kept.isoformat()}.")
    print("Every compliance seal keeps its changes by moment.")


@contextmanager
def _progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar, and the callback that moves it to (position, head)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(position: int, head: int) -> None:
            progress.update(task, completed=position, total=max(head, 1))

        yield update
