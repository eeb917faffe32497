"""The rule the service levels' sealer seals by (ADR 90), and how a partition is
named and written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cases.projections.layout import LayoutError, Partition, by_projection, parts_of
from cases.reports.service_level_partitions import PartitionProgress, sealable

T = datetime(2026, 4, 1, tzinfo=UTC)
HEAD = 100


def at(name: str, position: int, earliest: int | None, latest: int | None) -> PartitionProgress:
    """A partition's progress, its moments in hours after `T`."""
    return PartitionProgress(
        name,
        position,
        None if earliest is None else T + timedelta(hours=earliest),
        None if latest is None else T + timedelta(hours=latest),
    )


def moments(found: tuple[datetime, datetime] | None) -> tuple[int, int] | None:
    if found is None:
        return None
    earliest, latest = found
    return (earliest - T) // timedelta(hours=1), (latest - T) // timedelta(hours=1)


def test_with_none_behind_the_greatest_latest_seen() -> None:
    """Every partition at the head: as one runner, the latest fact seen."""
    progress = [at("a", HEAD, 1, 5), at("b", HEAD, 2, 9)]
    assert moments(sealable(progress, 2, HEAD)) == (1, 9)


def test_with_some_behind_the_least_latest_among_them() -> None:
    """A partition at the head does not count: its next facts come after the head."""
    progress = [at("a", 60, 1, 7), at("b", 80, 2, 4), at("c", HEAD, 0, 2)]
    assert moments(sealable(progress, 3, HEAD)) == (0, 4)


def test_a_partition_behind_that_has_seen_nothing_holds_every_seal() -> None:
    progress = [at("a", HEAD, 1, 9), at("b", 0, None, None)]
    assert sealable(progress, 2, HEAD) is None


def test_a_partition_at_the_head_that_has_seen_nothing_holds_none() -> None:
    """It has no facts at all up to the head."""
    progress = [at("a", HEAD, 1, 9), at("b", HEAD, None, None)]
    assert moments(sealable(progress, 2, HEAD)) == (1, 9)


def test_nothing_seen_or_a_partition_missing_seals_nothing() -> None:
    assert sealable([at("a", HEAD, None, None), at("b", HEAD, None, None)], 2, HEAD) is None
    assert sealable([at("a", HEAD, 1, 9)], 2, HEAD) is None


def test_a_partition_is_k_of_n_and_named_so() -> None:
    partition = Partition.parse(" 1/3 ")
    assert partition == Partition(1, 3)
    assert partition.tracking_name("service_levels") == "service_levels/1-of-3"


@pytest.mark.parametrize("text", ["3/3", "0/1", "1-3", "a/b", "-1/2", ""])
def test_a_partition_written_otherwise_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="partition"):
        Partition.parse(text)


def test_the_layout_is_read_from_the_tracking_rows() -> None:
    assert parts_of({}, "service_levels") == 1
    assert parts_of({"service_levels": 5}, "service_levels") == 1
    assert parts_of({"service_levels/0-of-2": 5, "service_levels/1-of-2": 3}, "service_levels") == 2
    with pytest.raises(LayoutError, match="two layouts"):
        parts_of({"service_levels": 5, "service_levels/0-of-2": 5}, "service_levels")
    with pytest.raises(LayoutError, match="two layouts"):
        parts_of({"service_levels/0-of-2": 5, "service_levels/0-of-3": 5}, "service_levels")


def test_a_projection_kept_by_partitions_is_as_far_as_the_least() -> None:
    rows = [("service_levels/0-of-2", 9), ("case_queue", 7), ("service_levels/1-of-2", 4)]
    assert by_projection(rows) == {"service_levels": 4, "case_queue": 7}
    assert by_projection([("service_levels__rebuild", 3)]) == {"service_levels__rebuild": 3}
