"""The compliance dashboard in a real browser: Debian's Chromium, headless, driven
by Playwright (never `playwright install`: the browser is the system's).

The page is signed in with an auditor's token; every figure it shows must equal
the JSON the API gives for the same period and moment, and no request may leave
the server. Screenshots (screen and print) go to test-artifacts/dashboard/ (or
$CASES_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._api import open_case
from tests.e2e._deployment import Deployment, deployment
from tests.e2e.test_case_lifecycle import walk_through_life
from tests.e2e.test_tenant_isolation import account_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("CASES_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

if not CHROMIUM.exists():
    pytest.skip(
        "no /usr/bin/chromium: `apt-get install -y chromium` (.ci/run does) to run the "
        "dashboard in a browser",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the dev extra's playwright")


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A deployment of its own on SQLite with cases of two severities (one
    answered, escalated to the vendor and resolved) and an account with an
    invoice, for the page to show."""
    with deployment("sqlite", tmp_path_factory.mktemp("dashboard")) as deployed:
        today = datetime.now(UTC).date()
        with (
            deployed.client("helpdesk_agent") as agent,
            deployed.client("billing_admin") as billing,
        ):
            for severity in ("critical", "moderate"):
                open_case(agent, "contoso", severity=severity)
            walk_through_life(agent, "contoso")  # answered, escalated, resolved, reopened
            account = billing.post("/accounts", json=account_for("contoso"))
            assert account.status_code == 201, account.text
            invoice = billing.post(
                f"/accounts/{account.json()['id']}/invoices",
                json={
                    "number": "F-1",
                    "issued_on": today.isoformat(),
                    "period": {"starts_on": today.isoformat(), "ends_on": today.isoformat()},
                    "lines": [
                        {
                            "description": "Microsoft 365 Business Premium",
                            "quantity": 40,
                            "unit_price": {"amount": "460.00", "currency": "SEK"},
                        }
                    ],
                },
            )
            assert invoice.status_code == 200, invoice.text
        yield deployed


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _period() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return (today - timedelta(days=60)).isoformat(), (today + timedelta(days=1)).isoformat()


def _open_page(browser: Any, deployed: Deployment, role: str) -> tuple[Any, list[str]]:
    """The dashboard signed in as `role`, shown; and every URL it requested."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested: list[str] = []

    def only_this_server(route: Any) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith(deployed.url + "/"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_this_server)
    start, end = _period()
    page.goto(f"{deployed.url}/dashboard?from={start}&to={end}")
    page.fill("input[name=token]", deployed.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-state]", timeout=30_000)
    return page, requested


def _percent(share: float | None) -> str:
    return "\N{EN DASH}" if share is None else f"{share * 100:.1f} %"


def _expected(client: httpx.Client, as_of: str) -> dict[str, str]:
    """The figures the page must show, from the API's JSON."""
    start, end = _period()
    query = {"from": start, "to": end, "as_of": as_of}
    figures: dict[str, str] = {}

    def report(*group_by: str) -> list[dict[str, Any]]:
        response = client.get("/reports/compliance", params={**query, "group_by": list(group_by)})
        assert response.status_code == 200, response.text
        groups: list[dict[str, Any]] = response.json()["groups"]
        return groups

    for g in report("month", "severity"):
        key = f"service-levels.{g['group']['month']}.{g['group']['severity']}"
        figures[f"{key}.cases"] = str(g["cases"])
        for clock in ("first_response", "resolution", "next_update"):
            figures[f"{key}.{clock.replace('_', '-')}"] = _percent(g[clock]["share_within_target"])
        figures[f"{key}.breaches"] = str(g["breaches"]["total"])
    for dimension, section in (
        ("category", "breaches-by-category"),
        ("vehicle", "breaches-by-vehicle"),
    ):
        for g in report(dimension):
            key = f"{section}.{g['group'][dimension]}"
            figures[f"{key}.cases"] = str(g["cases"])
            figures[f"{key}.total"] = str(g["breaches"]["total"])
            for clock in ("first_response", "next_update", "resolution", "vendor"):
                figures[f"{key}.{clock.replace('_', '-')}"] = str(g["breaches"][clock])
    counts = client.get("/escalations/counts", params={"from": start, "to": end}).json()
    by_vehicle: dict[str, int] = {}
    for c in counts["counts"]:
        by_vehicle[c["vehicle"] or "none"] = by_vehicle.get(c["vehicle"] or "none", 0) + c["count"]
    figures |= {f"escalations.{v}.count": str(n) for v, n in by_vehicle.items()}
    figures["escalations.total.count"] = str(counts["total"])
    for row in client.get("/receivables/aging").json()["currencies"]:
        for bucket, money in row.items():
            if bucket != "currency":
                figures[f"aging.{row['currency']}.{bucket}"] = money["amount"]
    checkpoint = client.get("/audit-log/checkpoint")
    if checkpoint.status_code == 404:
        figures["audit-log.size"] = "No checkpoint kept yet."
    else:
        kept = checkpoint.json()
        figures["audit-log.size"] = str(kept["size"])
        figures["audit-log.root-hash"] = kept["root_hash"]
        figures["audit-log.issued-at"] = kept["issued_at"]
    return figures


def test_the_page_shows_the_figures_of_the_json_reports(shown: Deployment, browser: Any) -> None:
    """Every figure on the page equals the API's JSON for the same moment, the
    page names its period and moment, and it asked nothing of any other host."""
    page, requested = _open_page(browser, shown, "auditor")
    try:
        assert page.get_attribute("body", "data-state") == "shown", page.inner_text("#status")
        as_of = page.inner_text("#as-of")
        shown_figures = page.eval_on_selector_all(
            "[data-figure]",
            "els => Object.fromEntries(els.map(e => [e.dataset.figure, e.textContent]))",
        )
        folder = ARTIFACTS / "dashboard"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "dashboard.png"), full_page=True)
        page.emulate_media(media="print")
        page.screenshot(path=str(folder / "dashboard-print.png"), full_page=True)
        assert page.is_hidden("#sign-in")  # printable: the form is left off paper
    finally:
        page.close()
    with shown.client("auditor") as auditor:
        expected = _expected(auditor, as_of)
    assert shown_figures == expected
    month = datetime.now(UTC).strftime("%Y-%m")
    assert shown_figures[f"service-levels.{month}.moderate.cases"] == "2"
    assert shown_figures[f"service-levels.{month}.moderate.first-response"] == "100.0 %"
    assert shown_figures["escalations.advanced_support_for_partners.count"] == "1"
    assert [u for u in requested if not u.startswith(shown.url + "/")] == []


def test_a_role_that_may_not_read_reports_sees_why(shown: Deployment, browser: Any) -> None:
    page, _ = _open_page(browser, shown, "helpdesk_agent")
    try:
        assert page.get_attribute("body", "data-state") == "failed"
        assert "403" in page.inner_text("#status")
        assert page.is_hidden("#figures")
    finally:
        page.close()


def test_a_report_that_fails_leaves_the_other_charts_drawn(shown: Deployment, browser: Any) -> None:
    """At scale one report can time out (503) while the others answer: its chart
    says why in its place, the rest are drawn, and the page says it is partial.
    The failure is the browser's answer to that one request; the others reach
    the real server."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def vehicle_times_out(route: Any) -> None:
        route.fulfill(
            status=503,
            content_type="application/problem+json",
            body='{"type":"about:blank","title":"Busy","status":503,'
            '"detail":"the report took too long"}',
        )

    page.route("**/reports/compliance?*group_by=vehicle*", vehicle_times_out)
    start, end = _period()
    try:
        page.goto(f"{shown.url}/dashboard?from={start}&to={end}")
        page.fill("input[name=token]", shown.tokens["auditor"])
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-state]", timeout=30_000)
        assert page.get_attribute("body", "data-state") == "partial"
        assert "1 of 6 charts" in page.inner_text("#status")
        failed = page.inner_text("#breaches-by-vehicle")
        assert "503" in failed
        assert "the report took too long" in failed
        assert page.is_visible("#breaches-by-category svg")
        assert page.inner_text("[data-figure='audit-log.size']").isdigit()
    finally:
        page.close()


def test_the_page_and_its_assets_allow_this_server_only(shown: Deployment) -> None:
    with httpx.Client(base_url=shown.url) as anonymous:
        for path, kind in (
            ("/dashboard", "text/html"),
            ("/dashboard/dashboard.js", "text/javascript"),
            ("/dashboard/dashboard.css", "text/css"),
        ):
            response = anonymous.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith(kind)
            assert "connect-src 'self'" in response.headers["content-security-policy"]
        assert anonymous.get("/dashboard/secret.txt").status_code == 422


def test_a_charts_csv_link_downloads_the_reports_csv(shown: Deployment, browser: Any) -> None:
    """The links fetch with the signed-in token: the CSV saved is the API's."""
    page, requested = _open_page(browser, shown, "auditor")
    try:
        link = page.locator("#breaches-by-category a[data-download$='.csv']")
        href = link.get_attribute("href")
        assert href is not None
        with page.expect_download() as downloading:
            link.click()
        saved = Path(downloading.value.path()).read_bytes()
    finally:
        page.close()
    with shown.client("auditor") as auditor:
        assert saved == auditor.get(href).content
    assert saved.startswith(b"category,cases,")
    assert [u for u in requested if not u.startswith(shown.url + "/")] == []
