"""The Business summary in a real browser: headless Chromium (Debian's `chromium` package, which
`make test` installs; driven by Playwright's Python package, whose own browser downloads are never
used) logs in through the login form, opens the page under its Content-Security-Policy, and
checks that every chart drew, that the KPI cards show the selector's figures, and that the
console stayed clean. The screenshot lands in test-output/business.png for a person to look at.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from playwright.sync_api import sync_playwright

from collectors.models import CollectorRun, RunStatus, SyncRun, Trigger
from demo.data import DEMO_MODELS, demo_data_load
from reports.business_json import business_summary
from reports.periods import period_resolve
from usage.events import UsageEvent, llm_events_record
from usage.models import ModelPrice
from usage.users import usage_users_upsert

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
CHARTS = [
    "chart-revenue-vs-costs",
    "chart-mrr-trend",
    "chart-cost-breakdown",
    "chart-monthly-llm",
    "chart-top-users",
    "chart-token-efficiency",
]
TIME_CHARTS = ["chart-revenue-vs-costs", "chart-mrr-trend", "chart-cost-breakdown"]
# USD per million tokens: (input, output, cache read). The demo's in-house model stays unpriced.
PRICES = {
    "gpt-4o": ("2.50", "10.00", "1.25"),
    "gpt-4o-mini": ("0.15", "0.60", "0.075"),
    "claude-sonnet-4-5": ("3.00", "15.00", "0.30"),
    "claude-haiku-4-5": ("1.00", "5.00", "0.10"),
    "meta-llama/llama-3.3-70b-instruct": ("0.13", "0.40", "0.13"),
}

# Per canvas: its size, how many pixels are painted, and how many elements Chart.js laid out.
CANVAS_STATE = """(ids) => ids.map((id) => {
  const canvas = document.getElementById(id);
  if (!canvas) return {id, missing: true};
  const chart = window.Chart && Chart.getChart(canvas);
  // Read a copy: repeated reads of the chart's own canvas make Chromium warn in the console.
  const copy = document.createElement("canvas");
  copy.width = canvas.width;
  copy.height = canvas.height;
  const context = copy.getContext("2d", {willReadFrequently: true});
  context.drawImage(canvas, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) painted++;
  return {
    id,
    width: canvas.width,
    height: canvas.height,
    visible: canvas.offsetParent !== null,
    painted,
    dataUrlLength: canvas.toDataURL().length,
    elements: chart ? chart.data.datasets.reduce(
      (n, _, i) => n + chart.getDatasetMeta(i).data.length, 0) : 0,
  };
})"""
# Collects CSP violations from the first byte of every document (init scripts are not subject
# to the page's policy).
CSP_LISTENER = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});"""

# The data migrations that create the Viewer and Finance groups and grant their permissions.
ROLE_MIGRATIONS = [
    ("billing.migrations.0002_finance_and_viewer_groups", "create_groups"),
    ("costledger.migrations.0005_usage_permissions", "grant"),
    ("collectors.migrations.0002_sync_permissions", "grant"),
]

pytestmark = pytest.mark.slow


@pytest.fixture
def roles(transactional_db):
    """The Viewer and Finance groups, as the data migrations create them. The live server needs
    committed rows, and the flush that ends every transactional test (this one and those before
    it) erases what data migrations wrote; serialized rollback cannot bring it back here, as the
    content types those flushes recreate clash with the serialized ones. So re-run the
    migrations' own functions on the migrated state."""
    if Group.objects.filter(name="Viewer").exists():
        return
    state_apps = MigrationLoader(connection).project_state().apps
    for module, function in ROLE_MIGRATIONS:
        getattr(import_module(module), function)(state_apps, None)


@pytest.fixture
def business_data(transactional_db, settings):
    """The demo ledger (six months of costs, MRR and LLM usage) with prices for the demo's
    models, a big spender with an email, and two collectors' runs: one fresh, one stale.
    Returns the selector's summaries for 30 days (the page's default) and 7 days, computed here:
    once Playwright runs, its event loop makes Django refuse database calls in this thread."""
    today = timezone.now().date()
    for provider, model, *_ in DEMO_MODELS:
        input_mtok, output_mtok, cache_read_mtok = PRICES[model]
        ModelPrice.objects.create(
            provider=provider,
            model=model,
            effective_from=date(2024, 1, 1),
            input_mtok=Decimal(input_mtok),
            output_mtok=Decimal(output_mtok),
            cache_read_mtok=Decimal(cache_read_mtok),
        )
    demo_data_load(today=today)
    usage_users_upsert(users={"big-spender": "big.spender@example.com"})
    # 4M input and 1M output tokens on gpt-4o cost 10 + 10 = 20 USD a request, 60 USD for the
    # three: twice what the demo's heaviest user costs in 30 days (about 6% of some 6,000
    # requests at 0.08 USD on average, about 30 USD), so the big spender tops the users.
    noon = datetime.combine(today, time(12), tzinfo=UTC)
    llm_events_record(
        events=[
            UsageEvent(
                event_id=f"browser-{n}",
                timestamp=noon - timedelta(days=n),
                provider="openai",
                model="gpt-4o",
                user_id="big-spender",
                input_tokens=4_000_000,
                output_tokens=1_000_000,
                tags={"agent": "support", "conversation_id": f"browser-conv-{n}"},
            )
            for n in range(3)
        ]
    )
    settings.STRIPE_SECRET_KEY = "sk_test_browser"  # set up, so its recent run reads "Fresh"
    now = timezone.now()
    for collector, finished in [
        ("stripe", now - timedelta(hours=2)),
        ("twilio", now - timedelta(days=5)),
    ]:
        run = SyncRun.objects.create(
            trigger=Trigger.COMMAND, status=RunStatus.OK, window_start=today, window_end=today,
            finished_at=finished,
        )  # fmt: skip
        CollectorRun.objects.create(
            sync_run=run, collector=collector, window_start=today, window_end=today,
            status=RunStatus.OK, started_at=finished, finished_at=finished,
        )  # fmt: skip
    return {key: business_summary(period=period_resolve(key=key)) for key in ("30d", "7d", "12m")}


def _console_problem(message) -> list[str]:
    """An error or warning the page logged. The browser's own request for /favicon.ico (the
    admin declares no icon) is not the page's doing."""
    url = message.location.get("url", "")
    if message.type not in ("error", "warning") or urlsplit(url).path == "/favicon.ico":
        return []
    return [f"console {message.type}: {message.text} ({url})"]


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium package "
            "(apt-get install chromium, as root)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_business(live_server, roles, viewer_user, browser):  # the browser last: see business_data
    """Log in through the real login form as a Viewer and land on the Business summary.
    Returns (page, problems): every console error or warning, page error and CSP violation."""

    def open_(**context_options):
        # Reduced motion turns Chart.js's animations off: the screenshot shows final charts.
        page = browser.new_page(
            viewport={"width": 1400, "height": 900}, reduced_motion="reduce", **context_options
        )
        page.add_init_script(CSP_LISTENER)
        problems = []
        page.on("console", lambda message: problems.extend(_console_problem(message)))
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto(f"{live_server.url}/admin/login/?next=/admin/business/")
        page.fill("#id_username", viewer_user.username)
        page.fill("#id_password", "pw")
        with page.expect_response(lambda r: urlsplit(r.url).path == "/admin/business/") as answer:
            page.click("input[type=submit]")
        assert answer.value.status == 200
        assert "script-src 'self'" in answer.value.headers["content-security-policy"]
        page.wait_for_load_state()
        return page, problems

    return open_


def _no_problems(page, problems: list[str]) -> None:
    problems = problems + [
        f"CSP violation: {v}" for v in page.evaluate("() => window.__cspViolations || []")
    ]
    assert problems == [], "\n".join(problems)


def _kpis_shown_are(page, summary: dict) -> None:
    for key, kpi in summary["kpis"].items():
        card = page.locator(f'[data-kpi="{key}"]')
        shown = f"{Decimal(kpi['value']):,}" if kpi["value"] is not None else "unknown"
        assert card.locator(".business-kpi-amount").inner_text() == shown
        if kpi["incomplete"]:  # said on the card, and no rise or fall drawn
            assert "Incomplete:" in card.locator(".business-kpi-incomplete").inner_text()
            assert card.locator(".is-good, .is-bad").count() == 0
        elif kpi["change_percent"] is not None:
            change = card.locator(".business-kpi-change").inner_text()
            assert f"{kpi['change_percent'].lstrip('-')}%" in change


def test_business_page_draws_every_chart_with_the_selectors_figures(
    business_data,
    open_business,
):
    expected = business_data["30d"]
    page, problems = open_business()
    # Functions, not expressions: Playwright evals a string in the page, which the CSP refuses.
    page.wait_for_function("() => document.getElementById('content-main').dataset.chartsDrawn")

    # Every chart drew: a visible canvas of non-zero size with painted pixels and laid-out data.
    page.wait_for_function(
        f"(ids) => ({CANVAS_STATE})(ids).every((c) => c.painted > 1000 && c.elements > 0)",
        arg=CHARTS,
        timeout=15_000,
    )
    for canvas in page.evaluate(CANVAS_STATE, CHARTS):
        assert canvas["visible"] and canvas["width"] > 0 and canvas["height"] > 0, canvas
        assert canvas["painted"] > 1000 and canvas["elements"] > 0, canvas
        assert canvas["dataUrlLength"] > 5000, canvas  # a blank canvas encodes to ~1-3 kB
    assert page.get_attribute("#content-main", "data-charts-drawn") == str(len(CHARTS))
    assert page.locator("details[open]").count() == 0  # the tables folded under their charts

    # The KPI cards show what the selector computes for the same period.
    _kpis_shown_are(page, expected)
    margin_class = page.get_attribute('[data-kpi="net_margin"]', "class")
    margin = expected["kpis"]["net_margin"]
    if margin["incomplete"]:  # a stale collector, unpriced usage: not shown as profit or loss
        assert "is-incomplete" in margin_class and "is-positive" not in margin_class
        assert any("Twilio collector has not succeeded" in r for r in margin["incomplete"])
    else:
        assert ("is-positive" in margin_class) is (margin["positive"] is True)
        assert ("is-negative" in margin_class) is (margin["positive"] is False)
    assert expected["kpis"]["revenue"]["value"] is not None  # the demo has MRR: a real figure
    assert expected["top_users"][0]["label"] == "big.spender@example.com"

    # Freshness: the collector that last succeeded five days ago is highlighted.
    assert "is-stale" in page.get_attribute('tr[data-collector="twilio"]', "class")
    assert "Fresh" in page.locator('tr[data-collector="stripe"]').inner_text()
    assert page.locator(f'a[href="{expected["freshness"]["unpriced"]["url"]}"]').count() >= 1

    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=OUTPUT / "business.png", full_page=True)
    _no_problems(page, problems)

    # Another period: the preset reloads the page with that period's figures and charts.
    with page.expect_navigation():
        page.click(".business-periods >> text=Last 7 days")
    assert page.locator('.business-periods [aria-current="page"]').inner_text() == "Last 7 days"
    _kpis_shown_are(page, business_data["7d"])

    # Any range, from the form: the page shows that range and its comparison.
    page.fill('.business-range input[name="start"]', "2026-10-01")
    page.fill('.business-range input[name="end"]', "2026-10-31")
    page.select_option('.business-range select[name="compare"]', "none")
    with page.expect_navigation():
        page.click('.business-range button[type="submit"]')
    assert "2026-10-01 to 2026-10-31 (31 days), not compared" in page.inner_text("#business-period")
    # The last 12 full months: every chart over time spans them, one point a month.
    with page.expect_navigation():
        page.click(".business-periods >> text=Last 12 full months")
    page.wait_for_function("() => document.getElementById('content-main').dataset.chartsDrawn")
    labels = page.evaluate(
        "(ids) => ids.map((id) => Chart.getChart(document.getElementById(id)).data.labels)",
        TIME_CHARTS,
    )
    months = business_data["12m"]["buckets"]["labels"]
    assert len(months) == 12 and all(chart == months for chart in labels)
    assert "per month" in page.inner_text("#revenue-vs-costs-title")
    page.screenshot(path=OUTPUT / "business-12-months.png", full_page=True)
    with page.expect_navigation():
        page.click(".business-periods >> text=Last 7 days")
    page.wait_for_function(
        f"(ids) => ({CANVAS_STATE})(ids).every((c) => c.painted > 1000 && c.elements > 0)",
        arg=CHARTS,
        timeout=15_000,
    )
    _no_problems(page, problems)

    # A bar of the top-users chart opens that user's usage (for the period shown).
    expected = business_data["7d"]
    canvas = page.locator("#chart-top-users")
    canvas.scroll_into_view_if_needed()
    bar = page.evaluate(
        "() => { const el = Chart.getChart(document.getElementById('chart-top-users'))"
        ".getDatasetMeta(0).data[0]; return {x: (el.x + el.base) / 2, y: el.y}; }"
    )
    box = canvas.bounding_box()
    with page.expect_navigation():
        page.mouse.click(box["x"] + bar["x"], box["y"] + bar["y"])
    target = urlsplit(expected["top_users"][0]["url"])
    opened = urlsplit(page.url)
    # The user's page, for the period shown (the comparison chosen above, none, is kept).
    assert opened.path == target.path == "/admin/user-usage/"
    assert parse_qs(opened.query) == parse_qs(target.query) | {"compare": ["none"]}
    assert page.locator("h1").inner_text()

    # Without JavaScript the same figures are there as open tables, and no empty canvas shows.
    page, problems = open_business(java_script_enabled=False)
    assert page.locator(".business-canvas:visible").count() == 0
    assert page.locator("details[open] table").count() == len(CHARTS)
    assert expected["top_users"][0]["label"] in page.locator("#top-users table").inner_text()
    page.screenshot(path=OUTPUT / "business-no-js.png", full_page=True)
    _no_problems(page, problems)


def test_an_empty_ledger_shows_what_to_do_instead_of_charts(open_business):
    page, problems = open_business()
    page.wait_for_function("() => document.getElementById('content-main').dataset.chartsDrawn")
    assert page.get_attribute("#content-main", "data-charts-drawn") == "0"
    assert page.locator(".business-canvas:visible").count() == 0
    assert page.locator('[data-kpi="revenue"] .business-kpi-amount').inner_text() == "unknown"
    notes = page.locator(".business-notes").inner_text()
    assert "revenue is unknown" in notes
    for section in [
        "revenue-vs-costs",
        "mrr-trend",
        "cost-breakdown",
        "monthly-llm",
        "top-users",
        "token-efficiency",
        "error-rates",
    ]:
        assert page.locator(f"#{section} .business-empty:visible").count() == 1, section
    _no_problems(page, problems)


def test_a_cell_opens_rows_adding_up_to_it_and_the_xlsx_equals_the_page(
    business_data, open_business, live_server
):
    """Costs by provider for last month: a cell's drill-down total is the cell; the XLSX the
    page downloads, opened with openpyxl, holds the page's monthly totals."""
    page, problems = open_business()
    page.goto(f"{live_server.url}/admin/costs-by-provider/?period=last_month&compare=none")
    cell = page.locator("table.ledger-table tbody td.num a").first
    shown = cell.inner_text()
    with page.expect_navigation():
        cell.click()
    total = page.locator("tr.ledger-total td.num").last.inner_text()
    assert total.split("+")[0].strip() == shown
    assert page.locator("tbody tr").count() >= 1
    page.screenshot(path=OUTPUT / "cost-cell.png", full_page=True)

    page.go_back()
    page_total = page.locator("tr.ledger-total td.num").first.inner_text().split(" ")[0]
    with page.expect_download() as download:
        page.click(".report-exports >> text=XLSX")
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as xlsx:
        book = openpyxl.load_workbook(xlsx)
    totals = [row for row in book["totals"].iter_rows(values_only=True) if row and isinstance(row[1], (int, float))]  # fmt: skip  # noqa: E501
    assert len(totals) == 1
    assert f"{Decimal(str(totals[0][1])).quantize(Decimal('0.01')):,}" == page_total
    _no_problems(page, problems)
