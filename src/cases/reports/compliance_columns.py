"""A sealed report's groups kept as columns (ADR 81, amendment of 2026-12-05).

The customer layer's cells (ADR 79) give every group's counts as one row of a
matrix in the order of `FIGURES`, and every measure's ranks as arrays: the
report keeps them so, and writes JSON and CSV from them (`compliance_export`);
a group's figures are made into a dict (then `GroupFigures`) only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from cases.reports.compliance_seal import unflattened_vector

Key = tuple[str, ...]
Integers = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Ranks:
    """One measure's ranks, a value per group: how many durations it has, and
    their median and p90 (nearest rank) in microseconds (meaningless at 0)."""

    lengths: Integers
    medians: Integers
    p90s: Integers

    def taken(self, order: Integers) -> Ranks:
        return Ranks(self.lengths[order], self.medians[order], self.p90s[order])


@dataclass(frozen=True, eq=False)
class FigureColumns:
    """Groups' figures as columns: `keys[i]`'s counts are `counts[i]` (in the
    order of `FIGURES`), its ranks of each measure `ranks[measure]`'s i-th."""

    keys: list[Key]
    counts: Integers
    ranks: dict[str, Ranks]

    def __len__(self) -> int:
        return len(self.keys)

    def sorted(self) -> FigureColumns:
        """The same groups in the order of their keys."""
        order = np.array(sorted(range(len(self.keys)), key=self.keys.__getitem__), dtype=np.int64)
        return FigureColumns(
            [self.keys[at] for at in order.tolist()],
            self.counts[order] if len(order) else self.counts,
            {measure: ranks.taken(order) for measure, ranks in self.ranks.items()},
        )

    def found(self, at: int) -> dict[str, Any]:
        """The `at`-th group's figures, as `group_figures` reads them."""
        group = unflattened_vector(self.counts[at].tolist())
        for measure, ranks in self.ranks.items():
            if ranks.lengths[at]:
                group[f"{measure}_quantiles"] = (
                    timedelta(microseconds=int(ranks.medians[at])),
                    timedelta(microseconds=int(ranks.p90s[at])),
                )
        return group
