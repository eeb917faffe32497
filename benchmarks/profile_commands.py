"""Where a command's Python goes: py-spy flame graphs of `commands.py`'s workloads.

Run: .venv/bin/python benchmarks/profile_commands.py [--commands 3000] [--cases 200]
     [--stores sqlite,postgres] [--which ours,ours-copies,library] [--cpu] [--out docs/profiles]

`--which ours-copies` profiles ours with working copies (as the API runs commands,
ADR 0023). `--cpu` samples without `--idle`: widths are then the time the thread
was not waiting, close to CPU time, except that py-spy counts a thread blocked in
the kernel on the disk (SQLite's fsync in `commit`) as active, so the commit's
flush still shows; measure CPU itself with `commands_cpu.py`.

For each store, ours and the library out of the box (`commands.py`'s
`CommandWorkload` and `LibraryWorkload`, set up the same way: cases spread over
the snapshot cycle, commands alternating a note and a communication) run in a
child process sampled by py-spy (`record --idle --format raw`, 250 samples a
second; with `--idle` the waits on the database are sampled too, so widths are
wall time). Only the samples taken inside the timed loop (`run`) are kept, cut
at the command (`one`); the script writes them folded
(with `--folded`: `<name>.folded`, one stack and its count a line, for any
flame graph tool), draws them as an SVG flame graph (`<name>.svg`, the width of a frame is its
share of the samples, hover for the figures) and prints where the samples fell
by phase: loading (snapshot read and decode, events read, event decode,
replay), deciding, saving (collecting and encoding the events, writing them,
taking snapshots), logging, metrics.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script: import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import commands as bench

from cases.log_config import configure_logging

ROOT = Path(__file__).resolve().parents[1]
Runs = Callable[[int], float]

RATE = 250  # samples a second
WORKING_COPIES = 1000  # `--which ours-copies`: ours as the API runs it (ADR 0023)

# Phases ----------------------------------------------------------------------

# A sample's phase is decided by the first rule, root to leaf, whose pattern one
# of its frames matches; sub-phases by the same rule below that frame.
# Frames read `Class.method (path/module.py:line)`.
F = r"(^|[.;])"  # where a function name starts (in a frame or in frames joined by ";")
PHASES: tuple[tuple[str, str], ...] = (
    ("logging", rf"({F}_log_recorded \(|structlog/)"),
    ("metrics", r"observability/"),
    ("saving", rf"{F}_?save \(.*(eventsourcing/application|command_runner)\.py"),
    ("loading", rf"{F}(get|load|_up_to_date) \(.*(eventsourcing/application|command_runner)\.py"),
    ("command context (metadata)", rf"{F}_context \("),
    ("deciding", rf"({F}decide \(|LibraryDesk\.(add_note|record_communication) \()"),
)
_RECONSTRUCT = r"_reconstruct_aggregate \([^)]*"
SUB_PHASES: dict[str, tuple[tuple[str, str], ...]] = {  # searched in the frames joined by ";"
    "loading": (
        ("read: snapshot and events at once (ADR 0059)", r"\.select_latest \("),
        ("read: snapshot", rf"{_RECONSTRUCT}application\.py:32[3-9]\);EventStore\.get"),
        (
            "snapshot decode",
            rf"{_RECONSTRUCT}(application\.py:32[3-9]|loading\.py:\d+)\);\w*Mapper",
        ),
        ("read: events after it", rf"{_RECONSTRUCT}application\.py:33[6-9]\)"),
        ("event decode", r"\.to_domain_event \("),
        ("replay (mutate)", rf"({F}replay \(|{F}project_aggregate \(|{F}mutate \()"),
    ),
    "saving": (
        ("snapshot taken", r"_take_snapshots|take_snapshot"),
        ("event encode", rf"{F}to_stored_event \("),
        ("collect events", rf"{F}collect_events \("),
        ("write (insert_events)", rf"{F}(insert_events|_insert_events|put) \("),
    ),
}


# A sample whose innermost frame is the driver's (or the library's SQLite calls
# into sqlite3): the database's work and the wait for it, plus the driver's own.
DRIVER = r"(psycopg/|psycopg_pool/|eventsourcing/sqlite\.py|sqlite3/)"


def in_driver(stack: list[str] | tuple[str, ...]) -> bool:
    return bool(stack) and re.search(DRIVER, stack[-1]) is not None


def phase_of(stack: list[str]) -> tuple[str, str]:
    for phase, pattern in PHASES:
        for i, frame in enumerate(stack):
            if re.search(pattern, frame):
                below = ";".join(stack[i:])
                for sub, sub_pattern in SUB_PHASES.get(phase, ()):
                    if re.search(sub_pattern, below):
                        return phase, sub
                return phase, "other"
    return "other", "other"


# Samples ----------------------------------------------------------------------


def timed_stacks(raw: str) -> Counter[tuple[str, ...]]:
    """The stacks sampled inside the timed loop, from the command (`one`) down."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in raw.splitlines():
        frames_text, _, count = line.rpartition(" ")
        frames = frames_text.split(";")
        starts = [
            i + 2
            for i, f in enumerate(frames[:-2])
            if f.startswith("run_child (") and ".run (commands.py" in frames[i + 1]
        ]
        if starts:
            stacks[tuple(frames[starts[0] :])] += int(count)
    return stacks


def short(frame: str) -> str:
    """`func (path/to/module.py:12)` → `func (to/module.py:12)`."""
    m = re.match(r"^(.*) \((.*?):?(\d*)\)$", frame)
    if not m:
        return frame
    func, path, line = m.groups()
    parts = Path(path).parts
    where = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{func} ({where}:{line})" if line else f"{func} ({where})"


def without_line(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


# Flame graph --------------------------------------------------------------------


@dataclass
class Node:
    name: str
    count: int = 0
    children: dict[str, Node] = field(default_factory=dict)


def tree_of(stacks: Counter[tuple[str, ...]]) -> Node:
    root = Node("all")
    for stack, count in stacks.items():
        root.count += count
        node = root
        for frame in stack:
            name = without_line(short(frame))
            node = node.children.setdefault(name, Node(name))
            node.count += count
    return root


COLOURS = {
    "eventsourcing/": "#f2a65a",
    "cases/persistence": "#e4572e",
    "cases/domain": "#5fad56",
    "cases/application": "#4d9de0",
    "structlog": "#b07bd6",
    "observability": "#c9a0dc",
    "psycopg": "#7f8c8d",
    "sqlite3": "#7f8c8d",
    "orjson": "#e9c46a",
}


def colour(name: str) -> str:
    for needle, value in COLOURS.items():
        if needle in name:
            return value
    return "#d9d9d9"


def svg_of(root: Node, title: str, width: int = 1400, row: int = 16, rate: int = RATE) -> str:
    rects: list[str] = []
    depth = 0

    def draw(node: Node, x: float, level: int) -> None:
        nonlocal depth
        w = width * node.count / root.count
        if w < 0.3:
            return
        depth = max(depth, level)
        share = 100 * node.count / root.count
        label = html.escape(node.name)
        tip = f"{label}: {node.count} samples, {share:.1f}%"
        text_room = int(w / 6.5)
        text = html.escape(node.name[:text_room]) if text_room >= 4 else ""
        rects.append(
            f'<g><title>{tip}</title><rect x="{x:.2f}" y="{{y{level}}}" width="{w:.2f}" '
            f'height="{row - 1}" fill="{colour(node.name)}" rx="1"/>'
            f'<text x="{x + 2:.2f}" y="{{t{level}}}">{text}</text></g>'
        )
        child_x = x
        for child in sorted(node.children.values(), key=lambda n: n.name):
            draw(child, child_x, level + 1)
            child_x += width * child.count / root.count

    draw(root, 0.0, 0)
    height = (depth + 1) * row + 40
    body = "\n".join(rects)
    for level in range(depth + 1):  # flame: the root at the bottom
        y = height - 10 - (level + 1) * row
        body = body.replace(f"{{y{level}}}", str(y)).replace(f"{{t{level}}}", str(y + row - 4))
    legend = " · ".join(f"{k.rstrip('/')}" for k in COLOURS)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" font-size="10">\n'
        f'<rect width="100%" height="100%" fill="white"/>\n'
        f'<text x="4" y="14" font-size="12">{html.escape(title)} — {root.count} samples '
        f"at {rate}/s; colours: {html.escape(legend)}</text>\n{body}\n</svg>\n"
    )


# The child: one workload, sampled ----------------------------------------------


@contextlib.contextmanager
def workload_of(store: str, which: str, n_cases: int, commands: int) -> Iterator[Runs]:
    """`commands.py`'s workload `which` (ours, library) on `store`, set up and warmed."""
    args = argparse.Namespace(sealed=False)
    with contextlib.ExitStack() as stack:
        if store == "sqlite":
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="cases-profile-"))
            url = f"sqlite:///{tmp}/cases.db"
            settings = bench.bench_settings(url, args, data_dir=Path(tmp))
            env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/l.db"}
        else:
            url = stack.enter_context(bench.throwaway_database(bench.ADMIN_URL))
            settings = bench.bench_settings(url, args)
            env = bench.library_postgres_env(url)
        if which in ("ours", "ours-copies"):
            copies = WORKING_COPIES if which == "ours-copies" else 0
            ours = bench.start_workload(settings, n_cases, commands, copies)
            stack.callback(ours.services.close)
            yield ours.run
        else:
            library = bench.start_library(env, n_cases, commands)
            stack.callback(library.desk.close)
            yield library.run


def run_child(store: str, which: str, n_cases: int, commands: int) -> None:
    with Path(os.devnull).open("w") as devnull:
        configure_logging("INFO", devnull)
        with workload_of(store, which, n_cases, commands) as run:
            run(commands)


# The parent: sample each child, draw, count -------------------------------------


def profile(store: str, which: str, args: argparse.Namespace) -> Counter[tuple[str, ...]]:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.txt"
        child = [sys.executable, str(Path(__file__).resolve()), "--child", f"{store}:{which}"]
        child += ["--commands", str(args.commands), "--cases", str(args.cases)]
        py_spy = str(Path(sys.executable).with_name("py-spy"))
        record = [
            py_spy,
            "record",
            *([] if args.cpu else ["--idle"]),
            "--format",
            "raw",
            "--rate",
            str(RATE),
            "-o",
            str(raw),
        ]
        subprocess.run(  # noqa: S603 - this interpreter's py-spy on this script
            [*record, "--", *child], check=True, env=os.environ | {"PYTHONPATH": str(ROOT / "src")}
        )
        return timed_stacks(raw.read_text())


def report(
    name: str, stacks: Counter[tuple[str, ...]], out: Path, *, folded_too: bool
) -> dict[tuple[str, str], int]:
    out.mkdir(parents=True, exist_ok=True)
    folded = "\n".join(f"{';'.join(short(f) for f in s)} {n}" for s, n in sorted(stacks.items()))
    if folded_too:
        (out / f"{name}.folded").write_text(folded + "\n")
    (out / f"{name}.svg").write_text(svg_of(tree_of(stacks), name))
    phases: Counter[tuple[str, str]] = Counter()
    for stack, count in stacks.items():
        phases[phase_of(list(stack))] += count
        if in_driver(stack):
            phases["(of which: in the driver, database calls)", "all phases"] += count
    return dict(phases)


def print_phases(results: dict[str, dict[tuple[str, str], int]]) -> None:
    names = list(results)
    keys = sorted({k for r in results.values() for k in r})
    print("| phase | sub-phase | " + " | ".join(names) + " |")
    print("|---|---|" + "---:|" * len(names))
    totals = {
        n: sum(v for k, v in r.items() if not k[0].startswith("(")) for n, r in results.items()
    }
    for key in keys:
        cells = [f"{100 * results[n].get(key, 0) / max(totals[n], 1):.1f}%" for n in names]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    print("| samples | | " + " | ".join(str(totals[n]) for n in names) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=3000)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--which", default="ours,library", help="of ours, ours-copies (working copies), library"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "profiles")
    parser.add_argument("--folded", action="store_true", help="write the folded stacks too")
    parser.add_argument("--tag", default="", help="suffix of the figures' names")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="sample only threads on the CPU (no --idle): widths are CPU time, not wall time",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        store, which = args.child.split(":")
        run_child(store, which, args.cases, args.commands)
        return 0
    print(f"load average at the start (1, 5, 15 min): {os.getloadavg()}", flush=True)
    results = {}
    for store in args.stores.split(","):
        for which in args.which.split(","):
            name = f"{which}-{store}{args.tag}"
            stacks = profile(store, which, args)
            results[name] = report(name, stacks, args.out, folded_too=args.folded)
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    print_phases(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
