"""The RFC 9162 tree: our small implementation (ADR 42) against pymerkle 7.

Run: .venv/bin/python benchmarks/merkle.py [LEAVES] [REPEATS]     # 1000000 3

For each side, in one run, with the same leaves (8-byte big-endian counters):

- append: hash and add every leaf. `extend` is ours without handing out nodes
  (what a verifier rebuilding roots uses). Ours keeps its frontier and hands every
  completed node to a store: an in-memory dict (`NodeMap`), and separately a
  SQLite table `node(level, idx, hash)` (WITHOUT ROWID, primary key (level,
  idx)), which stands in for the database a log keeps; pymerkle's `InmemoryTree`
  and its own `SqliteTree` (leaf table only).
- root: of the whole tree; ours from the frontier and from stored nodes,
  pymerkle cold (its subroot cache cleared) and warm.
- proofs at the full size for random leaves / earlier sizes: ours from the
  dict, and from SQLite with the one query each proof makes; pymerkle cold and
  warm, and cold on its SqliteTree (what a restarted process pays).
- memory: tracemalloc's peak while appending (a separate, untimed pass).
- agreement: over every size 1-64, how many of pymerkle's roots, inclusion
  paths (less the leaf hash it puts first) and consistency paths are RFC 9162's.

Every figure is the median over the repetitions (proof times: the median of
many proofs within a repetition, then the median of those).
"""

from __future__ import annotations

import gc
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from pymerkle import InmemoryTree, SqliteTree

from cases.transparency.merkle import (
    Frontier,
    NodeMap,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_at,
)

PROOFS = 500
COLD_PROOFS = 5


class SqliteNodes:
    """The nodes in a SQLite table; `nodes` is one query, as a database-backed source is."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE node (level INTEGER, idx INTEGER, hash BLOB,"
            " PRIMARY KEY (level, idx)) WITHOUT ROWID"
        )

    def keep(self, completed: list[tuple[int, int, bytes]]) -> None:
        self.db.executemany("INSERT INTO node VALUES (?, ?, ?)", completed)

    def nodes(self, wanted: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        values = ",".join("(?, ?)" for _ in wanted)
        args = [x for pair in wanted for x in pair]
        rows = self.db.execute(
            "SELECT n.level, n.idx, n.hash FROM (VALUES "
            + values
            + ") AS w JOIN node AS n ON n.level = w.column1 AND n.idx = w.column2",
            args,
        )
        return {(level, idx): digest for level, idx, digest in rows}


def timed(action: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_us(action: Callable[[int], object], count: int, top: int, rng: random.Random) -> float:
    samples = []
    for _ in range(count):
        arg = rng.randrange(top)
        start = time.perf_counter()
        action(arg)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def peak_mib(action: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    kept = action()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del kept
    return peak / 2**20


def ours_append(entries: list[bytes], store: NodeMap | SqliteNodes | None) -> Frontier:
    frontier = Frontier.empty()
    for entry in entries:
        completed = frontier.append(leaf_hash(entry))
        if store is not None:
            store.keep(completed)
    return frontier


def ours(entries: list[bytes], rng: random.Random, directory: Path, rep: int) -> dict[str, float]:
    n = len(entries)
    nodes = NodeMap()
    fig = {"ours: append, frontier only (s)": timed(lambda: ours_append(entries, None))}
    fig["ours: extend, frontier only (s)"] = timed(
        lambda: Frontier.empty().extend(leaf_hash(entry) for entry in entries)
    )
    frontier = Frontier.empty()

    def fill() -> None:
        nonlocal frontier
        frontier = ours_append(entries, nodes)

    fig["ours: append + dict of nodes (s)"] = timed(fill)
    sqlite_nodes = SqliteNodes(directory / f"ours-{rep}.sqlite")

    def fill_sqlite() -> None:
        with sqlite_nodes.db:
            ours_append(entries, sqlite_nodes)

    fig["ours: append + SQLite nodes (s)"] = timed(fill_sqlite)
    fig["ours: root from frontier (us)"] = median_us(lambda _: frontier.root(), PROOFS, 1, rng)
    fig["ours: root from dict (us)"] = median_us(lambda _: root_at(n, nodes), PROOFS, 1, rng)
    fig["ours: root from SQLite (us)"] = median_us(
        lambda _: root_at(n, sqlite_nodes), PROOFS, 1, rng
    )
    fig["ours: inclusion from dict (us)"] = median_us(
        lambda i: inclusion_proof(i, n, nodes), PROOFS, n, rng
    )
    fig["ours: inclusion from SQLite, 1 query (us)"] = median_us(
        lambda i: inclusion_proof(i, n, sqlite_nodes), PROOFS, n, rng
    )
    fig["ours: consistency from dict (us)"] = median_us(
        lambda m: consistency_proof(m + 1, n, nodes), PROOFS, n - 1, rng
    )
    fig["ours: consistency from SQLite, 1 query (us)"] = median_us(
        lambda m: consistency_proof(m + 1, n, sqlite_nodes), PROOFS, n - 1, rng
    )
    sqlite_nodes.db.close()
    return fig


def pymerkle(
    entries: list[bytes], rng: random.Random, directory: Path, rep: int
) -> dict[str, float]:
    n = len(entries)
    tree = InmemoryTree(algorithm="sha256")
    fig = {"pymerkle: append, InmemoryTree (s)": timed(lambda: tree.append_entries(entries))}

    def cold(action: Callable[[int], object]) -> Callable[[int], object]:
        def run(arg: int) -> object:
            tree.cache_clear()
            return action(arg)

        return run

    fig["pymerkle: root, cold cache (us)"] = median_us(
        cold(lambda _: tree.get_root()), COLD_PROOFS, 1, rng
    )
    fig["pymerkle: root, warm cache (us)"] = median_us(lambda _: tree.get_root(), PROOFS, 1, rng)
    fig["pymerkle: inclusion, cold cache (us)"] = median_us(
        cold(lambda i: tree.prove_inclusion(i + 1, n)), COLD_PROOFS, n, rng
    )
    fig["pymerkle: inclusion, warm cache (us)"] = median_us(
        lambda i: tree.prove_inclusion(i + 1, n), PROOFS, n, rng
    )
    fig["pymerkle: consistency, warm cache (us)"] = median_us(
        lambda m: tree.prove_consistency(m + 1, n), PROOFS, n - 1, rng
    )
    stored = SqliteTree(str(directory / f"pymerkle-{rep}.sqlite"), algorithm="sha256")
    fig["pymerkle: append, SqliteTree (s)"] = timed(lambda: stored.append_entries(entries))

    def cold_stored(action: Callable[[int], object]) -> Callable[[int], object]:
        def run(arg: int) -> object:
            stored.cache_clear()
            return action(arg)

        return run

    fig["pymerkle: root, SqliteTree cold (us)"] = median_us(
        cold_stored(lambda _: stored.get_root()), COLD_PROOFS, 1, rng
    )
    fig["pymerkle: inclusion, SqliteTree cold (us)"] = median_us(
        cold_stored(lambda i: stored.prove_inclusion(i + 1, n)), COLD_PROOFS, n, rng
    )
    stored.close()
    return fig


def memory(entries: list[bytes]) -> dict[str, float]:
    def dict_of_nodes() -> object:
        nodes = NodeMap()
        return ours_append(entries, nodes), nodes

    def inmemory_tree() -> object:
        tree = InmemoryTree(algorithm="sha256")
        tree.append_entries(entries)
        return tree

    return {
        "ours: peak memory, frontier only (MiB)": peak_mib(lambda: ours_append(entries, None)),
        "ours: peak memory, dict of nodes (MiB)": peak_mib(dict_of_nodes),
        "pymerkle: peak memory, InmemoryTree (MiB)": peak_mib(inmemory_tree),
    }


def agreement(size: int = 64) -> dict[str, str]:
    """How far pymerkle's roots and proofs are RFC 9162's (ours, checked on the RFC vectors)."""
    entries = [i.to_bytes(8, "big") for i in range(size)]
    nodes = NodeMap()
    ours_append(entries, nodes)
    tree = InmemoryTree(algorithm="sha256")
    tree.append_entries(entries)
    roots = [tree.get_root(n) == root_at(n, nodes) for n in range(1, size + 1)]
    pairs = [(m, n) for n in range(1, size + 1) for m in range(n)]
    inclusion = [
        tree.prove_inclusion(m + 1, n).path[1:] == inclusion_proof(m, n, nodes) for m, n in pairs
    ]
    growing = [(m, n) for m, n in pairs if m > 0]
    consistency = [
        tree.prove_consistency(m, n).path == consistency_proof(m, n, nodes) for m, n in growing
    ]
    return {
        "pymerkle roots equal RFC 9162's": f"{sum(roots)} of {len(roots)}",
        "pymerkle inclusion paths, less their first hash, equal": (
            f"{sum(inclusion)} of {len(inclusion)}"
        ),
        "pymerkle consistency paths equal": f"{sum(consistency)} of {len(consistency)}",
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    entries = [i.to_bytes(8, "big") for i in range(n)]
    rng = random.Random(42)
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeats):
            figures = ours(entries, rng, Path(tmp), rep)
            figures |= pymerkle(entries, rng, Path(tmp), rep)
            runs.append(figures)
            print(f"repetition {rep + 1} of {repeats} done", file=sys.stderr)
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    medians |= memory(entries)
    for key, verdict in agreement().items():
        print(f"{key:56} {verdict:>14} (sizes 1-64)")
    print(f"{n} leaves, medians of {repeats} repetitions")
    for key, value in medians.items():
        print(f"{key:48} {value:14,.1f}")


if __name__ == "__main__":
    main()
