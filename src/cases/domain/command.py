"""How a command is declared: a frozen value with slots, named in the imperative.

`@command` is `@dataclass(frozen=True, slots=True)` under the name it serves
(ADR 0039); type checkers read it as a dataclass (PEP 681).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def command(cls: type[T]) -> type[T]:
    """Declare `cls` a command: what its fields hold, fixed once asked."""
    return dataclass(frozen=True, slots=True)(cls)
