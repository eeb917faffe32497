"""Where a command's latency goes, from the records `sitecustomize` writes in a
timed server and the load generator's own (api_load.py --timings, ADR 0027 amendment).

The split, per command request (POST) finished in the measured window:
- client: what the load generator measured (the benchmark's latency);
- arrival: from uvicorn reading the request's bytes to the app's first line (the
  event loop's queue);
- server: from the app's first line to its last (client - arrival - server is
  what lies outside the server's event loop: sockets, the load generator);
- queued: waiting for a pool thread (the endpoint's hand-off);
- command: the endpoint's thread less its events write (load, decide, encode);
- write: waiting in the events' group commit, its own batch included (ADR 0027);
- loop: the app on the event loop (middleware, dependencies, the answer's send).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent
QUANTILES = (0.5, 0.9, 0.99)
BUSIEST_SLICES = 5
SETTLE_SECONDS = 2.5  # until the servers have written the phase's last records


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _records(folder: Path, pattern: str) -> list[dict[str, Any]]:
    return [json.loads(line) for path in folder.glob(pattern) for line in path.open()]


@dataclass(frozen=True)
class Split:
    """Each part's p50, p90 and p99 in ms, with the window's collections and batches."""

    parts: dict[str, tuple[float, ...]]
    slowest: dict[str, float]  # each part's mean over the slowest 2 % (by server time)
    pauses: dict[tuple[str, int], tuple[int, float]]  # (process, generation): count, max ms
    batches: tuple[float, ...]  # group commit batches' duration quantiles, ms
    clustered: float  # share of the client's slowest 1 % in its 5 busiest 100 ms slices

    def lines(self) -> list[str]:
        out = [
            f"{name:>8}: " + " / ".join(f"{v:6.2f}" for v in values)
            for name, values in self.parts.items()
        ]
        out.append("slowest 2 %: " + ", ".join(f"{k} {v:.1f}" for k, v in self.slowest.items()))
        out.append(
            "batches p50/p90/p99: " + " / ".join(f"{v:.2f}" for v in self.batches) + " ms; "
            f"client's slowest 1 %: {self.clustered:.0%} in {BUSIEST_SLICES} slices of 100 ms"
        )
        out.append(
            "collections: "
            + (
                ", ".join(
                    f"{role} gen {g} x{n} (max {m:.1f} ms)"
                    for (role, g), (n, m) in self.pauses.items()
                )
                or "none"
            )
        )
        return out


def split(folder: Path) -> Split:
    """The split of the commands phase timed into `folder` (its servers' records
    are written a second apart: wait `SETTLE_SECONDS` after the phase first)."""
    client = _records(folder, "loadgen-commands.jsonl")
    begin = min(r["te"] - r["rt"] / 1e3 for r in client)
    end = max(r["te"] for r in client)
    servers = _records(folder, "server-*.jsonl")
    requests = [
        r for r in servers if r["k"] == "req" and r["m"] == "POST" and begin <= r["t"] <= end
    ]
    parts = {
        "client": [r["rt"] for r in client],
        "arrival": [r["waited"] for r in requests],
        "server": [r["d"] for r in requests],
        "queued": [r["queued"] for r in requests],
        "command": [r["thread"] - r["write"] for r in requests],
        "write": [r["write"] for r in requests],
        "loop": [r["d"] - r["thread"] - r["queued"] for r in requests],
    }
    cut = _quantile(parts["server"], 0.98)
    slow = [r for r in requests if r["d"] >= cut]
    slowest = {
        "arrival": sum(r["waited"] for r in slow) / len(slow),
        "server": sum(r["d"] for r in slow) / len(slow),
        "queued": sum(r["queued"] for r in slow) / len(slow),
        "command": sum(r["thread"] - r["write"] for r in slow) / len(slow),
        "write": sum(r["write"] for r in slow) / len(slow),
    }
    pauses: dict[tuple[str, int], tuple[int, float]] = {}
    for role in ("server", "runner"):
        for r in _records(folder, f"{role}-*.jsonl"):
            if r["k"] == "gc" and begin <= r["t"] <= end:
                n, longest = pauses.get((role, r["g"]), (0, 0.0))
                pauses[role, r["g"]] = (n + 1, max(longest, r["d"]))
    batches = [r["d"] for r in servers if r["k"] == "batch" and begin <= r["t"] <= end]
    return Split(
        {k: tuple(_quantile(v, q) for q in QUANTILES) for k, v in parts.items()},
        slowest,
        dict(sorted(pauses.items())),
        tuple(_quantile(batches, q) for q in QUANTILES),
        _clustered(client, begin),
    )


def _clustered(client: list[dict[str, Any]], begin: float) -> float:
    """The share of the client's slowest 1 % that fell in the five 100 ms slices
    holding most of them (0.05 of the window: 5 % if they were spread evenly)."""
    cut = _quantile([r["rt"] for r in client], 0.99)
    slices: dict[int, int] = {}
    for r in client:
        if r["rt"] >= cut:
            key = int((r["te"] - begin) * 10)
            slices[key] = slices.get(key, 0) + 1
    counts = sorted(slices.values(), reverse=True)
    return sum(counts[:BUSIEST_SLICES]) / max(1, sum(counts))
