"""The projection commands mounted as `cases` mounts them, runnable as a module:

python -m tests.support.projection_cli projections run
"""

from __future__ import annotations

import typer

from cases.cli.projections import migrate_command, projections_app

app = typer.Typer(no_args_is_help=True, add_completion=False)
app.add_typer(projections_app, name="projections")
app.command("migrate")(migrate_command)

if __name__ == "__main__":
    app()
