"""The progress bar of the scheduled runs (collection, retention): on stderr, only
on a terminal and for runs long enough to need one, gone when the run ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

Advance = Callable[[int, int], None]


@contextmanager
def run_progress(description: str, total: int, *, shown_from: int) -> Iterator[Advance]:
    """A bar of `total` items (hidden below `shown_from` or off a terminal), and the
    callback that moves it to (done, total)."""
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=total < shown_from or not console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance
