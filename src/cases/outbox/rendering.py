"""Messages in words: Jinja2 templates per language, shipped in the package.

A template starts with a `Subject: …` line and a blank line; the rest is the
body. Values are rendered as text (plain-text e-mail: nothing is escaped), and
a name a template uses but the context lacks is an error, not a blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

LANGUAGES = ("sv", "en")


class TemplateShapeError(ValueError):
    """Raised when a template does not start with a subject line and a blank line."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain-text messages, never HTML: nothing to escape. The templates ship in
    # the package and do not change under a running process: no file check on
    # every message (`auto_reload`, a stat per render).
    return Environment(
        loader=PackageLoader("cases", "outbox/templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701
        auto_reload=False,
    )


def render(template: str, language: str, **context: Any) -> Rendered:
    """Render `template` (e.g. "reminder") in `language` ("sv" or "en")."""
    chosen = language if language in LANGUAGES else "en"
    text = _environment().get_template(f"{chosen}/{template}.txt.j2").render(**context)
    head, blank, body = text.partition("\n\n")
    if not blank or not head.startswith("Subject: "):
        raise TemplateShapeError(f"{chosen}/{template} does not start with a subject line")
    return Rendered(head.removeprefix("Subject: ").strip(), body.strip() + "\n")
