"""How a group of `cases` subcommands is built: one way, for every group."""

from __future__ import annotations

import typer


def command_group(help: str, *, always_a_group: bool = False) -> typer.Typer:
    """A group of subcommands that shows `help`, and its own help when called bare.

    Typer folds a group of one command into that command (`cases clocks` would
    run `evaluate`); `always_a_group` keeps it a group, so the command is named.
    """
    group = typer.Typer(help=help, no_args_is_help=True)
    if always_a_group:
        group.callback()(_no_options)
    return group


def _no_options() -> None:
    # The group takes no options of its own; its help is the Typer's.
    return None
