"""The LLM reconciliation's tolerance and coverage, on the page and in its downloads, against
hand-computed figures."""

import csv
import io
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.urls import reverse

from costledger.models import CostEntry, Source
from costledger.providers import provider_category
from costledger.selectors import Reconciliation
from costledger.services import cost_entries_upsert

pytestmark = pytest.mark.django_db
URL = reverse("admin:llm_reconciliation")
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
OCTOBER = {"start": "2026-10-01", "end": "2026-11-30"}


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 10:00:00+00:00", tick=False):
        yield


def llm_entry(provider, service, amount, *, source, day=OCT, reference="", model_tag=None):
    return CostEntry(
        provider=provider,
        service=service,
        category=provider_category(provider),
        charge_period_start=day,
        charge_period_end=day + timedelta(days=1),
        billed_cost=Decimal(amount),
        currency="USD",
        source=source,
        reference=reference,
        tags={"model": model_tag} if model_tag else {},
    )


@pytest.fixture
def bills():
    """October. OpenAI: usage (events) computed 95.00 for gpt-4o; billed 60.00 + 30.00 for
    gpt-4o and 10.00 for gpt-4o-mini (no usage): 100.00. Anthropic: usage (Prometheus) 94.99 for
    claude-sonnet-4-5; billed 100.00 for the dated snapshot claude-sonnet-4-5-20250929.
    November: OpenRouter usage of 3.00 and no bill."""
    usage, api = Source.USAGE, Source.API
    cost_entries_upsert(
        entries=[
            llm_entry("openai", "gpt-4o", "95.00", source=usage, reference="events"),
            llm_entry("openai", "gpt-4o-2024-08-06, input", "60.00", source=api),
            llm_entry("openai", "gpt-4o-2024-08-06, output", "30.00", source=api),
            llm_entry("openai", "gpt-4o-mini-2024-07-18, input", "10.00", source=api),
            llm_entry("anthropic", "claude-sonnet-4-5", "94.99", source=usage,
                      reference="prometheus"),
            llm_entry("anthropic", "Claude Sonnet 4.5 Usage - Input Tokens", "100.00",
                      source=api, model_tag="claude-sonnet-4-5-20250929"),
            llm_entry("openrouter", "openai/gpt-4o", "3.00", source=usage, reference="events",
                      day=NOV),
        ]
    )  # fmt: skip


def rows_of(response) -> dict[str, tuple[Reconciliation, bool]]:
    return {row.provider: (row, beyond) for row, beyond in response.context["lines"]}


# --- the rule, by hand -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("computed", "billed", "beyond"),
    [
        ("95.00", "100.00", False),  # 5.00 is exactly 5 % of 100.00: within
        ("94.99", "100.00", True),  # 5.01 is beyond
        ("105.00", "100.00", False),
        ("105.01", "100.00", True),
        (None, "100.00", True),  # billed, no usage at all: computed 0
        ("3.00", None, False),  # no bill: nothing to compare with
        ("0", "0", False),
        ("0.01", "0", True),  # anything against a bill of 0 is beyond any percentage
    ],
)
def test_a_month_is_beyond_the_tolerance_when_the_gap_exceeds_its_share_of_the_bill(
    computed, billed, beyond
):
    row = Reconciliation(
        "openai",
        OCT,
        None if computed is None else Decimal(computed),
        None if billed is None else Decimal(billed),
    )
    assert row.beyond(Decimal("5")) is beyond


# --- the page ----------------------------------------------------------------------------------


def test_the_page_highlights_months_beyond_the_tolerance_and_prints_coverage(admin_client, bills):
    response = admin_client.get(URL, OCTOBER)
    assert response.context["tolerance"] == Decimal("5")
    rows = rows_of(response)
    openai, openai_beyond = rows["openai"]
    anthropic, anthropic_beyond = rows["anthropic"]
    openrouter, openrouter_beyond = rows["openrouter"]
    assert (openai.computed, openai.billed, openai.difference) == (
        Decimal("95.00"), Decimal("100.00"), Decimal("-5.00"),
    )  # fmt: skip
    assert not openai_beyond and anthropic_beyond and not openrouter_beyond
    # Coverage: computed / billed.
    assert openai.coverage_percent == Decimal("95")
    assert anthropic.coverage_percent == Decimal("94.99")
    assert openrouter.coverage_percent is None
    # Billed with usage: gpt-4o's 90.00 of 100.00; the dated Claude snapshot is its model.
    assert openai.billed_by_model == {
        "gpt-4o-2024-08-06": Decimal("90.00"),
        "gpt-4o-mini-2024-07-18": Decimal("10.00"),
    }
    assert openai.billed_with_usage == Decimal("90.00")
    assert openai.billed_with_usage_percent == Decimal("90")
    assert openai.models_without_usage == ["gpt-4o-mini-2024-07-18"]
    assert anthropic.billed_with_usage == Decimal("100.00")
    assert anthropic.models_without_usage == []
    # The total: the two billed months; OpenRouter's 3.00 has no bill to compare with.
    total = response.context["total"]
    assert (total.computed, total.billed, total.difference) == (
        Decimal("189.99"), Decimal("200.00"), Decimal("-10.01"),
    )  # fmt: skip
    assert total.coverage_percent == Decimal("94.995")
    assert total.billed_with_usage == Decimal("190.00")
    assert total.computed_without_bill == Decimal("3.00")

    page = response.content.decode()
    assert page.count('class="reconciliation-beyond"') == 1
    assert "beyond 5 %" in page
    assert "95.00%" in page  # OpenAI's coverage, and the total's 94.995 to 0.01
    assert "94.99%" in page  # Anthropic's coverage
    assert "no usage: gpt-4o-mini-2024-07-18" in page
    assert "no bill to compare" in page
    assert "189.99" in page and "200.00" in page and "-10.01" in page
    assert "190.00 (95.00%)" in page
    assert "Usage computed for months without a bill" in page and "3.00" in page
    for term in ("Coverage", "Billed with usage", "Beyond tolerance"):
        assert f"<dt>{term}</dt>" in page


def test_the_tolerance_is_chosen_on_the_page(admin_client, bills):
    rows = rows_of(admin_client.get(URL, {**OCTOBER, "tolerance": "4.99"}))
    assert rows["openai"][1] and rows["anthropic"][1]  # 5.00 > 4.99
    rows = rows_of(admin_client.get(URL, {**OCTOBER, "tolerance": "5.01"}))
    assert not rows["openai"][1] and not rows["anthropic"][1]  # 5.01 is not more than 5.01


def test_the_tolerance_defaults_to_the_setting(admin_client, bills, settings):
    settings.RECONCILIATION_TOLERANCE_PERCENT = Decimal("4")
    response = admin_client.get(URL, OCTOBER)
    assert response.context["tolerance"] == Decimal("4")
    assert rows_of(response)["openai"][1]


@pytest.mark.parametrize(
    "asked", ["abc", "-1", "100.01", "1e3", "5.001", "9" * 500, " ", "５", "NaN", "Infinity"]
)
def test_a_tolerance_it_cannot_read_is_said_and_the_default_used(admin_client, bills, asked):
    response = admin_client.get(URL, {**OCTOBER, "tolerance": asked})
    assert response.status_code == 200
    assert response.context["tolerance"] == Decimal("5")
    said = [str(m) for m in response.context["messages"]]
    if asked.strip():
        assert any("tolerance" in m and "using 5 %" in m for m in said)


def test_the_export_links_carry_the_period_and_the_tolerance(admin_client, bills):
    response = admin_client.get(URL, {**OCTOBER, "tolerance": "2.5"})
    links = dict(response.context["exports"])
    query = "start=2026-10-01&end=2026-11-30&compare=previous&tolerance=2.5"
    assert links["Download CSV"] == f"{reverse('admin:llm_reconciliation_csv')}?{query}"
    assert links["Download XLSX"] == f"{reverse('admin:llm_reconciliation_xlsx')}?{query}"
    assert 'name="tolerance" value="2.5"' in response.content.decode()


# --- the downloads -----------------------------------------------------------------------------


def test_the_csv_holds_each_month_with_its_tolerance_and_coverage(admin_client, bills):
    response = admin_client.get(reverse("admin:llm_reconciliation_csv"), OCTOBER)
    assert response.status_code == 200
    assert "llm-reconciliation_2026-10-01_2026-11-30.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_provider = {row["provider"]: row for row in rows}
    assert by_provider["openai"] == {
        "month": "2026-10-01",
        "provider": "openai",
        "provider_name": "OpenAI",
        "computed": "95.00",
        "billed": "100.00",
        "difference": "-5.00",
        "difference_percent": "-5.00",
        "beyond_tolerance": "false",
        "coverage_percent": "95.00",
        "billed_with_usage": "90.00",
        "billed_with_usage_percent": "90.00",
        "models_without_usage": "gpt-4o-mini-2024-07-18",
        "currency": "USD",
    }
    assert by_provider["anthropic"]["beyond_tolerance"] == "true"
    assert by_provider["openrouter"]["billed"] == ""


def test_the_xlsx_total_equals_the_page(admin_client, bills):
    page_total = admin_client.get(URL, OCTOBER).context["total"]
    response = admin_client.get(reverse("admin:llm_reconciliation_xlsx"), OCTOBER)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "reconciliation", "reconciliation total", "reconciliation definitions",
    ]  # fmt: skip
    months = book["reconciliation"]
    headers = [c.value for c in months[3]]
    openai = next(r for r in months.iter_rows(min_row=4) if r[1].value == "openai")
    cells = dict(zip(headers, openai, strict=True))
    assert cells["computed"].data_type == "n" and cells["computed"].value == 95
    assert cells["month"].is_date
    assert cells["beyond_tolerance"].value is False
    total = book["reconciliation total"]
    values = dict(zip([c.value for c in total[3]], [c.value for c in total[4]], strict=True))
    assert Decimal(str(values["computed"])) == page_total.computed == Decimal("189.99")
    assert Decimal(str(values["billed"])) == page_total.billed == Decimal("200.00")
    assert Decimal(str(values["coverage_percent"])) == Decimal("95.00")  # 94.995 to 0.01
    assert values["months_beyond_tolerance"] == 1
    definitions = [r[0].value for r in book["reconciliation definitions"].iter_rows(min_row=3)]
    assert "Coverage" in definitions


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"tolerance": "x"}, "tolerance"),
        ({"start": "2026-13-01", "end": "2026-11-30"}, "start"),
        ({"start": "2026-11-30", "end": "2026-10-01"}, "end"),
        ({"start": "0001-01-01", "end": "2026-10-01"}, "start"),
    ],
)
def test_a_download_refuses_what_it_cannot_read_naming_it(admin_client, query, named):
    for name in ("admin:llm_reconciliation_csv", "admin:llm_reconciliation_xlsx"):
        response = admin_client.get(reverse(name), query)
        assert response.status_code == 400
        assert response.content.decode().startswith(f"{named}:")


def test_a_tolerance_setting_that_is_not_a_percentage_stops_start_up():
    environment = {**os.environ, "DEBUG": "1", "RECONCILIATION_TOLERANCE_PERCENT": "five"}
    result = subprocess.run(
        [sys.executable, "-c", "import costledger.settings"],
        env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "RECONCILIATION_TOLERANCE_PERCENT='five' is not a percentage" in result.stderr
