"""Cohere's rerank (per search unit) and embed (per token) through the real ingest API, on the
prices `load_prices` loads from genai-prices and its supplement (usage.price_supplement). Every
cost is worked out by hand in the test."""

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from costledger.models import CostEntry
from usage.models import (
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsageModelDaily,
    ModelPrice,
    PriceSource,
)
from usage.price_supplement import SUPPLEMENT
from usage.pricing import PriceMissing, TokenUsage, usage_cost
from usage.rebuild import llm_usage_rebuild

pytestmark = pytest.mark.django_db
URL = "/api/v1/usage/events"
DAY = date(2026, 11, 20)
ADD_URL = reverse("admin:usage_modelprice_add")


@pytest.fixture(autouse=True)
def _bundled_prices():
    call_command("load_prices", stdout=StringIO())


def event(event_id, model, **fields):
    return {"event_id": event_id, "timestamp": "2026-11-20T09:30:00Z", "user_id": "u1",
            "provider": "cohere", "model": model, **fields}  # fmt: skip


def post(client, key, events):
    return client.post(
        URL,
        json.dumps({"events": events}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )


def stored(event_id) -> LlmUsageEvent:
    return LlmUsageEvent.objects.get(event_id=event_id)


# --- The price book ----------------------------------------------------------------------------


def test_the_supplement_is_loaded_as_bundled_rows_from_the_day_cohere_published_them():
    rerank = ModelPrice.objects.get(provider="cohere", model="rerank-v3.5")
    assert (rerank.effective_from, rerank.source) == (date(2024, 12, 2), PriceSource.PACKAGE)
    assert (rerank.per_search_unit, rerank.input_mtok) == (Decimal("0.002"), None)
    assert "usage/price_supplement.py" in rerank.notes and "cohere.com/pricing" in rerank.notes
    embed = ModelPrice.objects.get(provider="cohere", model="embed-english-v3.0")
    assert (embed.effective_from, embed.input_mtok) == (date(2023, 11, 2), Decimal("0.1"))
    for entry in SUPPLEMENT:  # each a valid row, stored exactly as written
        row = ModelPrice.objects.get(provider=entry.provider, model=entry.model)
        row.full_clean()
        for column, price in entry.prices.items():
            assert getattr(row, column) == Decimal(price)
    out = StringIO()
    call_command("load_prices", stdout=out)
    assert ": 0 price rows written" in out.getvalue()


def test_cohere_chat_and_embed_v4_come_from_genai_prices():
    command_r = ModelPrice.objects.get(provider="cohere", model="command-r")
    assert (command_r.input_mtok, command_r.output_mtok) == (Decimal("0.15"), Decimal("0.6"))
    embed_v4 = ModelPrice.objects.get(provider="cohere", model="embed-v4.0")
    assert embed_v4.input_mtok == Decimal("0.12") and "supplement" not in embed_v4.notes


def test_a_supplement_price_the_package_has_is_left_out_and_said_so(monkeypatch):
    from usage import pricing
    from usage.price_supplement import SupplementPrice

    stale = SupplementPrice("cohere", "command-r", date(2024, 1, 1), {"input_mtok": "9"}, "x")
    monkeypatch.setattr(pricing, "SUPPLEMENT", (stale,))
    rows, skipped = pricing.package_prices()
    assert "cohere/command-r: priced by genai-prices now" in "\n".join(skipped)
    assert [r.input_mtok for r in rows if (r.provider, r.model) == ("cohere", "command-r")] == [
        Decimal("0.15")
    ]


def test_search_units_without_a_search_price_raise_price_missing_naming_them():
    command_r = ModelPrice.objects.get(provider="cohere", model="command-r")
    with pytest.raises(PriceMissing, match="has no search unit price"):
        usage_cost(usage=TokenUsage(input_tokens=10, search_units=1), price=command_r)
    rerank = ModelPrice.objects.get(provider="cohere", model="rerank-v3.5")
    with pytest.raises(PriceMissing, match="has no input price"):  # a rerank bills no tokens
        usage_cost(usage=TokenUsage(input_tokens=10, search_units=1), price=rerank)
    assert usage_cost(usage=TokenUsage(search_units=1000), price=rerank) == Decimal("2")


# --- Rerank and embed events costed by hand -----------------------------------------------------


def test_a_rerank_event_is_costed_per_search_unit(client, key):
    response = post(client, key, [event("r1", "rerank-v3.5", search_units=3)])
    assert response.status_code == 200, response.json()
    rerank = stored("r1")
    # 3 search units x 2.00 USD per 1,000
    assert rerank.cost == Decimal("0.006") and rerank.cost_source == "price_book"
    assert rerank.search_units == 3 and rerank.price.model == "rerank-v3.5"
    daily = LlmUsageDaily.objects.get(model="rerank-v3.5")
    assert (daily.search_units, daily.cost, daily.unpriced_requests) == (3, Decimal("0.006"), 0)
    entry = CostEntry.objects.get(source="usage", provider="cohere", service="rerank-v3.5")
    assert entry.billed_cost == Decimal("0.006")


def test_an_embed_event_is_costed_per_input_token(client, key):
    response = post(client, key, [event("m1", "embed-english-v3.0", input_tokens=1_234_567)])
    assert response.status_code == 200, response.json()
    # 1,234,567 tokens x 0.10 USD per million
    assert stored("m1").cost == Decimal("0.1234567")
    assert LlmUsageDaily.objects.get().cost == Decimal("0.1234567")


def test_an_unknown_cohere_model_stays_unpriced_never_zero(client, key):
    post(client, key, [event("u1", "rerank-v9.9", search_units=2)])
    unknown = stored("u1")
    assert (unknown.cost, unknown.cost_source) == (None, "unpriced")
    daily = LlmUsageDaily.objects.get()
    assert (daily.search_units, daily.unpriced_requests) == (2, 1)
    assert not CostEntry.objects.filter(source="usage").exists()


def test_search_units_on_a_model_without_a_search_price_are_unpriced(client, key):
    """A chat model's row prices tokens only: its search units cannot be costed at 0."""
    post(client, key, [event("c1", "command-r", input_tokens=100, search_units=1)])
    assert stored("c1").cost_source == "unpriced"


def test_an_admin_override_of_the_search_price_wins_from_its_date(client, key, admin_client):
    response = admin_client.post(
        ADD_URL,
        {"provider": "cohere", "model": "rerank-v3.5", "effective_from": "2026-11-01",
         "per_search_unit": "0.001", "tiers": "", "notes": "Contract"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    post(client, key, [event("r1", "rerank-v3.5", search_units=3)])
    assert stored("r1").cost == Decimal("0.003")  # 3 x 0.001
    page = admin_client.get(reverse("admin:usage_modelprice_changelist"), {"q": "rerank-v3.5"})
    assert "per search unit 0.002" in page.content.decode()
    assert "per search unit 0.001" in page.content.decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [("-0.002", "cannot be negative"), ("0.000000001", "8 decimal places"), ("abc", "number")],
)
def test_the_admin_refuses_a_bad_search_price_naming_the_field(admin_client, value, message):
    response = admin_client.post(
        ADD_URL,
        {"provider": "cohere", "model": "rerank-v3.5", "effective_from": "2026-11-01",
         "per_search_unit": value, "tiers": "", "notes": ""},
    )  # fmt: skip
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["per_search_unit"])
    assert not ModelPrice.objects.filter(source=PriceSource.ADMIN).exists()


# --- The sums --------------------------------------------------------------------------------

SUMMED = ("user_id", "model", "requests", "input_tokens", "search_units", "cost",
          "unpriced_requests")  # fmt: skip


def test_the_sums_carry_search_units_and_a_rebuild_gives_the_same(client, key):
    post(client, key, [
        event("r1", "rerank-v3.5", search_units=3),
        event("r2", "rerank-v3.5", search_units=7),
        event("r3", "rerank-english-v3.0", user_id="u2", search_units=1),
        event("m1", "embed-english-v3.0", input_tokens=500),
        event("x1", "rerank-v9.9", search_units=4),
    ])  # fmt: skip
    post(client, key, [event("r1", "rerank-v3.5", search_units=3)])  # a duplicate: nothing
    daily = sorted(LlmUsageDaily.objects.values_list(*SUMMED))
    assert daily == [
        ("u1", "embed-english-v3.0", 1, 500, 0, Decimal("0.00005"), 0),
        ("u1", "rerank-v3.5", 2, 0, 10, Decimal("0.02"), 0),  # 10 x 0.002
        ("u1", "rerank-v9.9", 1, 0, 4, Decimal("0"), 1),
        ("u2", "rerank-english-v3.0", 1, 0, 1, Decimal("0.002"), 0),
    ]
    per_model = dict(LlmUsageModelDaily.objects.values_list("model", "search_units"))
    assert per_model == {"embed-english-v3.0": 0, "rerank-v3.5": 10, "rerank-v9.9": 4,
                         "rerank-english-v3.0": 1}  # fmt: skip
    entries = sorted(CostEntry.objects.filter(source="usage").values_list("service", "billed_cost"))
    llm_usage_rebuild(days=[DAY])
    assert sorted(LlmUsageDaily.objects.values_list(*SUMMED)) == daily
    assert dict(LlmUsageModelDaily.objects.values_list("model", "search_units")) == per_model
    rebuilt = sorted(CostEntry.objects.filter(source="usage").values_list("service", "billed_cost"))
    assert rebuilt == entries


def test_a_reprice_keeps_the_search_units(client, key):
    """Events stored unpriced are costed by a re-price once the model has a price."""
    post(client, key, [event("x1", "rerank-v9.9", search_units=4)])
    ModelPrice.objects.create(
        provider="cohere", model="rerank-v9.9", effective_from=DAY, source=PriceSource.ADMIN,
        per_search_unit=Decimal("0.0025"),
    )  # fmt: skip
    call_command("reprice", "--since", "2026-11-20", "--until", "2026-11-20", stdout=StringIO())
    assert stored("x1").cost == Decimal("0.01")  # 4 x 0.0025
    daily = LlmUsageDaily.objects.get()
    assert (daily.search_units, daily.cost, daily.unpriced_requests) == (4, Decimal("0.01"), 0)
