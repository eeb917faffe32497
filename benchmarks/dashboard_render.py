"""How long the compliance dashboard takes to show its figures (ADR 57).

Run: .venv/bin/python benchmarks/dashboard_render.py [--runs 6] [--from 2026-01-01 --to 2027-01-01]
    [--database postgresql://... [--workers 2]]

Starts `cases serve --demo` on a fresh SQLite store in a temporary directory (the
demo story: two months of billing, a fortnight at the support desk) or, with
`--database`, `cases serve` on that existing database (e.g. the one
`benchmarks/compliance_report.py --database` filled with a year of 1 000 000
cases: then pass `--from 2027-01-01 --to 2028-01-01`), creates an auditor, and
opens `/dashboard` in Debian's Chromium (headless, through
Playwright's `executable_path`) `--runs` times: the time from pressing "Show" to
the page having drawn every figure (its six requests to the API, in parallel, and
the drawing). The first run warms the server; the median of the others is printed.
With `--database`, `--workers N` serves it as production does on PostgreSQL
(compose.yaml: two workers), so the page's parallel requests share N processes.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CASES = [sys.executable, "-c", "import sys; from cases.cli.main import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(url: str, seconds: float, probe: str = "/ready") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{probe}").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server at {url} did not become ready in {seconds:.0f} s")


def _auditor_token(env: dict[str, str]) -> str:
    made = subprocess.run(  # noqa: S603 - this interpreter, the cases CLI
        [*CASES, "principals", "create", "--name", "Bench auditor", "--role", "auditor"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return next(line.split()[1] for line in made.stdout.splitlines() if line.startswith("token "))


def _time_page(url: str, token: str, period: tuple[str, str], runs: int) -> list[float]:
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            for _ in range(runs):
                page = browser.new_page()
                page.goto(f"{url}/dashboard?from={period[0]}&to={period[1]}")
                page.fill("input[name=token]", token)
                started = time.perf_counter()
                page.click("button[type=submit]")
                page.wait_for_selector("body[data-state]")
                times.append((time.perf_counter() - started) * 1000)
                if page.get_attribute("body", "data-state") != "shown":
                    raise SystemExit(page.inner_text("#status"))
                page.close()
        finally:
            browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--from", dest="start", default="2026-01-01")
    parser.add_argument("--to", dest="end", default="2027-01-01")
    parser.add_argument("--database", help="serve this existing database instead of the demo")
    parser.add_argument("--workers", type=int, default=1, help="server workers (--database only)")
    args = parser.parse_args()
    if args.workers != 1 and not args.database:
        parser.error("--workers needs --database: the demo's SQLite store serves from one process")
    with tempfile.TemporaryDirectory(prefix="cases-dashboard-") as folder:
        env = dict(os.environ, CASES_DATA_DIR=str(Path(folder) / "data"))
        env.pop("CASES_DATABASE_URL", None)
        if args.database:
            env["CASES_DATABASE_URL"] = args.database
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with (Path(folder) / "server.log").open("w") as log:
            serving = ["--workers", str(args.workers)] if args.database else ["--demo"]
            server = subprocess.Popen(  # noqa: S603 - this interpreter, the cases CLI
                [*CASES, "serve", "--port", str(port), *serving],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                # An existing database's read models are read as they stand: no
                # projection runner is started, so the server is live, not ready.
                _wait_ready(url, 300, "/health" if args.database else "/ready")
                times = _time_page(url, _auditor_token(env), (args.start, args.end), args.runs)
            finally:
                server.terminate()
                server.wait(30)
    print("ms per run:", " ".join(f"{t:.0f}" for t in times))
    print(f"median after the first: {statistics.median(times[1:]):.0f} ms")


if __name__ == "__main__":
    main()
