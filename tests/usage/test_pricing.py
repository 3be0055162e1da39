"""The price book and the exact cost of usage, on the prices of the pinned genai-prices package
(loaded by `load_prices` in each test). Every figure is computed by hand in the test."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from usage.models import ModelPrice, PriceSource
from usage.pricing import (
    PriceMissing,
    TokenUsage,
    model_canonical,
    price_book_load,
    usage_cost,
)

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 15)
NOV_1 = date(2026, 11, 1)
ADD_URL = reverse("admin:usage_modelprice_add")


@pytest.fixture(autouse=True)
def _package_prices():
    call_command("load_prices", stdout=StringIO())


def price(provider, model, day=DAY):
    book = price_book_load(pairs={(provider, model)}, until=day)
    return book.price_for(provider, model, day)


def cost(provider, model, day=DAY, **usage):
    return usage_cost(usage=TokenUsage(**usage), price=price(provider, model, day))


def override(model="gpt-4o", day=NOV_1, provider="openai", **prices):
    return ModelPrice.objects.create(
        provider=provider, model=model, effective_from=day, source=PriceSource.ADMIN, **prices
    )


# --- Cost of usage, on real prices ------------------------------------------------------------


def test_gpt_4o_uncached_input_cached_input_and_output():
    # $2.50 / $1.25 cached / $10 per million: 2.50 + 0.25 + 1.00
    assert cost(
        "openai",
        "gpt-4o-2024-08-06",
        input_tokens=1_000_000,
        cache_read_tokens=200_000,
        output_tokens=100_000,
    ) == Decimal("3.75")


def test_claude_sonnet_4_5_with_cache_writes_and_reads_below_the_long_context_tier():
    # 170,000 tokens of context: base prices $3 in, $3.75 cache write, $0.30 cache read, $15 out
    # 50,000 x 3 + 20,000 x 3.75 + 100,000 x 0.30 + 2,000 x 15 = 285,000 per million
    assert cost(
        "anthropic",
        "claude-sonnet-4-5-20250929",
        input_tokens=50_000,
        cache_write_tokens=20_000,
        cache_read_tokens=100_000,
        output_tokens=2_000,
    ) == Decimal("0.285")


def test_claude_sonnet_4_5_above_200k_tokens_of_context_pays_the_tier_on_all_tokens():
    # 150,000 + 60,000 cache read + 10,000 cache write = 220,000 > 200,000: every token at the
    # tier ($6 in, $0.60 cache read, $7.50 cache write, $22.50 out), not only those past 200k.
    # 150,000 x 6 + 60,000 x 0.6 + 10,000 x 7.5 + 4,000 x 22.5 = 1,101,000 per million
    assert cost(
        "anthropic",
        "claude-sonnet-4-5",
        input_tokens=150_000,
        cache_read_tokens=60_000,
        cache_write_tokens=10_000,
        output_tokens=4_000,
    ) == Decimal("1.101")


def test_the_tier_starts_past_its_start_not_on_it():
    assert cost("anthropic", "claude-sonnet-4-5", input_tokens=200_000) == Decimal("0.6")
    assert cost("anthropic", "claude-sonnet-4-5", input_tokens=200_001) == Decimal("1.200006")


def test_gemini_2_5_pro_tier_on_output_follows_the_input_context():
    # $1.25 in / $10 out up to 200k of context, $2.50 / $15 past it; 1,000 output tokens
    assert cost("google", "gemini-2.5-pro", input_tokens=100_000, output_tokens=1_000) == Decimal(
        "0.135"
    )
    assert cost("google", "gemini-2.5-pro", input_tokens=300_000, output_tokens=1_000) == Decimal(
        "0.765"
    )


def test_o4_mini_reasoning_tokens_are_billed_at_the_output_price():
    # $1.10 in, $0.275 cached, $4.40 out; reasoning 3,000 + output 1,000 at $4.40
    # 10,000 x 1.1 + 5,000 x 0.275 + 4,000 x 4.4 = 29,975 per million
    assert cost(
        "openai",
        "o4-mini",
        input_tokens=10_000,
        cache_read_tokens=5_000,
        output_tokens=1_000,
        reasoning_tokens=3_000,
    ) == Decimal("0.029975")


def test_o3_price_cut_of_2025_06_10_applies_from_its_date():
    usage = {"input_tokens": 1_000_000, "reasoning_tokens": 500_000}
    # before: $10 in, $40 out; from 2025-06-10: $2 in, $8 out
    assert cost("openai", "o3", date(2025, 6, 9), **usage) == Decimal("30")
    assert cost("openai", "o3", date(2025, 6, 10), **usage) == Decimal("6")


def test_perplexity_sonar_adds_its_per_request_fee():
    # $1 in, $1 out per million, $12 per 1,000 requests = $0.012 a request
    assert price("perplexity", "sonar").per_request == Decimal("0.012")
    assert cost("perplexity", "sonar", input_tokens=1_000, output_tokens=500) == Decimal("0.0135")
    assert cost("perplexity", "sonar", requests=3) == Decimal("0.036")


def test_cache_reads_without_a_cache_price_are_billed_at_the_input_price():
    # OpenRouter listed no cache price for openai/gpt-4o before 2026-10-19, $1.25 from then.
    usage = {"input_tokens": 100_000, "cache_read_tokens": 200_000}
    assert cost("openrouter", "openai/gpt-4o", date(2026, 10, 18), **usage) == Decimal("0.75")
    assert cost("openrouter", "openai/gpt-4o", date(2026, 10, 19), **usage) == Decimal("0.5")


def test_cache_writes_without_a_cache_write_price_are_billed_at_the_input_price():
    # OpenAI bills no cache writes: those tokens are plain input at $2.50
    assert cost("openai", "gpt-4o", cache_write_tokens=1_000_000) == Decimal("2.5")


def test_a_free_model_costs_zero_not_unpriced():
    assert cost(
        "openrouter", "qwen/qwq-32b:free", input_tokens=5_000, output_tokens=900
    ) == Decimal("0")


def test_tokens_of_a_kind_the_row_has_no_price_for_are_refused_not_costed_at_zero():
    embedding = price("voyageai", "voyage-3")  # input only: $0.06 per million
    assert usage_cost(usage=TokenUsage(input_tokens=1_000_000), price=embedding) == Decimal("0.06")
    with pytest.raises(PriceMissing, match="voyageai/voyage-3 .* has no output price"):
        usage_cost(usage=TokenUsage(input_tokens=10, output_tokens=1), price=embedding)


def test_images_cost_their_per_image_price_and_nothing_without_one():
    image_model = ModelPrice(output_mtok=Decimal("40"), per_image=Decimal("0.04"), tiers={})
    usage = TokenUsage(output_tokens=1_000, images=3)
    assert usage_cost(usage=usage, price=image_model) == Decimal("0.16")  # 0.04 + 3 x 0.04
    assert cost("openai", "gpt-4o", input_tokens=1_000, images=2) == Decimal("0.0025")


def test_cost_is_exact_with_no_rounding():
    assert cost("openai", "gpt-4o-mini", input_tokens=1, output_tokens=1) == Decimal("0.00000075")


# --- Model names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "canonical"),
    [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "openai/gpt-4o", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("openrouter", "openai/gpt-4o", "openai/gpt-4o"),
        ("openai", "ft:my-own-model", "ft:my-own-model"),
        ("other", "gpt-4o", "gpt-4o"),
    ],
)
def test_model_canonical(provider, model, canonical):
    assert model_canonical(provider, model) == canonical


def test_azure_serves_openai_models_at_openai_prices():
    assert cost("azure", "gpt-4o", input_tokens=1_000_000) == Decimal("2.5")


def test_unknown_model_is_unpriced():
    assert price("openai", "gpt-nonexistent-9") is None
    assert price("acme", "gpt-4o") is None


def test_a_day_before_any_price_is_unpriced():
    override(provider="acme", model="acme-1", day=NOV_1, input_mtok=Decimal("1"))
    assert price("acme", "acme-1", date(2026, 10, 31)) is None
    assert price("acme", "acme-1", NOV_1).input_mtok == Decimal("1")


# --- The price book: one query, overrides ------------------------------------------------------


def test_price_book_loads_a_batch_in_one_query_and_prices_it_with_none(
    django_assert_num_queries,
):
    pairs = {
        ("openai", "gpt-4o-2024-08-06"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("openai", "o3"),
        ("openai", "gpt-nonexistent-9"),
    }
    with django_assert_num_queries(1):
        book = price_book_load(pairs=pairs, until=DAY)
    with django_assert_num_queries(0):
        found = {pair: book.price_for(*pair, DAY) for pair in pairs}
    assert {pair: p and (p.model, p.input_mtok) for pair, p in found.items()} == {
        ("openai", "gpt-4o-2024-08-06"): ("gpt-4o", Decimal("2.5")),
        ("anthropic", "claude-sonnet-4-5-20250929"): ("claude-sonnet-4-5", Decimal("3")),
        ("openai", "o3"): ("o3", Decimal("2")),
        ("openai", "gpt-nonexistent-9"): None,
    }


def test_price_book_leaves_out_prices_after_until():
    override(day=NOV_1, input_mtok=Decimal("2"), output_mtok=Decimal("8"))
    book = price_book_load(pairs={("openai", "gpt-4o")}, until=DAY)
    assert book.price_for("openai", "gpt-4o", NOV_1).source == PriceSource.PACKAGE


def test_an_admin_override_wins_from_its_date_and_the_package_before():
    override(day=NOV_1, input_mtok=Decimal("2"), output_mtok=Decimal("8"))
    book = price_book_load(pairs={("openai", "gpt-4o-2024-08-06")}, until=date(2026, 12, 31))
    before = book.price_for("openai", "gpt-4o-2024-08-06", date(2026, 10, 31))
    on = book.price_for("openai", "gpt-4o-2024-08-06", NOV_1)
    after = book.price_for("openai", "gpt-4o-2024-08-06", date(2026, 12, 31))
    assert (before.source, before.input_mtok) == (PriceSource.PACKAGE, Decimal("2.5"))
    assert (on.source, on.input_mtok) == (PriceSource.ADMIN, Decimal("2"))
    assert after == on
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=100_000)
    assert usage_cost(usage=usage, price=before) == Decimal("3.5")
    assert usage_cost(usage=usage, price=on) == Decimal("2.8")


def test_on_the_same_date_the_admin_row_beats_the_package_row():
    override(day=date(2000, 1, 1), input_mtok=Decimal("1"), output_mtok=Decimal("4"))
    assert price("openai", "gpt-4o").source == PriceSource.ADMIN


def test_an_override_of_the_name_as_sent_beats_the_package_id():
    override(model="gpt-4o-2024-08-06", day=date(2024, 8, 6), input_mtok=Decimal("5"))
    assert price("openai", "gpt-4o-2024-08-06").input_mtok == Decimal("5")
    assert price("openai", "gpt-4o-2024-11-20").input_mtok == Decimal("2.5")


def test_a_later_package_price_wins_over_an_earlier_override():
    override(model="o3", day=date(2025, 1, 1), input_mtok=Decimal("9"), output_mtok=Decimal("30"))
    assert price("openai", "o3", date(2025, 6, 9)).input_mtok == Decimal("9")
    assert price("openai", "o3", date(2025, 6, 10)).input_mtok == Decimal("2")


# --- The admin ---------------------------------------------------------------------------------


def form(**overrides):
    data = {
        "provider": "openai",
        "model": "gpt-4o",
        "effective_from": "2026-11-01",
        "input_mtok": "2",
        "output_mtok": "8",
        "cache_read_mtok": "",
        "cache_write_mtok": "",
        "per_request": "",
        "per_image": "",
        "tiers": "",
        "notes": "Negotiated rate",
    }
    return {**data, **overrides}


def test_admin_adds_an_override_as_source_admin_whatever_is_posted(admin_client):
    response = admin_client.post(ADD_URL, form(source=PriceSource.PACKAGE))
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = ModelPrice.objects.get(source=PriceSource.ADMIN)
    assert (row.model, row.effective_from, row.input_mtok, row.tiers, row.currency) == (
        "gpt-4o",
        NOV_1,
        Decimal("2"),
        {},
        "USD",
    )
    assert price("openai", "gpt-4o-2024-08-06", NOV_1) == row


def test_admin_override_with_tiers(admin_client):
    tiers = '{"input": [{"start": 128000, "price": "4"}]}'
    response = admin_client.post(ADD_URL, form(tiers=tiers))
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = ModelPrice.objects.get(source=PriceSource.ADMIN)
    # 130,000 tokens of context > 128,000: all input at $4
    assert usage_cost(usage=TokenUsage(input_tokens=130_000), price=row) == Decimal("0.52")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"input_mtok": "-1"}, "input_mtok", "cannot be negative"),
        ({"tiers": '{"prompt": [{"start": 1, "price": "1"}]}'}, "tiers", "not a token kind"),
        ({"tiers": '{"input": [{"start": 1, "price": 1.5}]}'}, "tiers", "written as a string"),
        ({"tiers": '{"input": [{"start": "1k", "price": "1"}]}'}, "tiers", "whole-number"),
        ({"tiers": '{"cache_read": [{"start": 1, "price": "1"}]}'}, "tiers", "no base price"),
        ({"provider": "Open AI"}, "provider", "slug"),
    ],
)
def test_admin_refuses_a_bad_price_naming_the_field(admin_client, fields, field, message):
    response = admin_client.post(ADD_URL, form(**fields))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert not ModelPrice.objects.filter(source=PriceSource.ADMIN).exists()


def test_admin_refuses_a_row_without_any_price(admin_client):
    response = admin_client.post(ADD_URL, form(input_mtok="", output_mtok=""))
    assert "Enter at least one price" in " ".join(
        response.context["adminform"].form.errors["__all__"]
    )


def test_admin_refuses_a_second_override_of_the_same_model_and_date(admin_client):
    override(day=NOV_1, input_mtok=Decimal("2"))
    response = admin_client.post(ADD_URL, form())
    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.errors)
    assert ModelPrice.objects.filter(source=PriceSource.ADMIN).count() == 1


def test_package_rows_are_read_only_in_the_admin(admin_client):
    row = ModelPrice.objects.get(provider="openai", model="gpt-4o")
    url = reverse("admin:usage_modelprice_change", args=[row.pk])
    assert admin_client.get(url).context["has_change_permission"] is False
    assert admin_client.post(url, form(input_mtok="0")).status_code == 403
    delete_url = reverse("admin:usage_modelprice_delete", args=[row.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.input_mtok == Decimal("2.5")


def test_admin_rows_can_be_edited(admin_client):
    row = override(day=NOV_1, input_mtok=Decimal("2"))
    url = reverse("admin:usage_modelprice_change", args=[row.pk])
    response = admin_client.post(url, form(input_mtok="1.5"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    row.refresh_from_db()
    assert (row.input_mtok, row.source) == (Decimal("1.5"), PriceSource.ADMIN)


def test_admin_list_shows_prices_and_an_override_link_that_copies_them(admin_client):
    row = ModelPrice.objects.get(provider="anthropic", model="claude-sonnet-4-5")
    changelist = reverse("admin:usage_modelprice_changelist")
    page = admin_client.get(changelist, {"q": "claude-sonnet-4-5", "provider": "anthropic"})
    html = page.content.decode()
    assert "in 3 · out 15 · cache read 0.3 · cache write 3.75 (+ long-context tiers)" in html
    assert f'href="{ADD_URL}?copy={row.pk}"' in html
    add_form = admin_client.get(ADD_URL, {"copy": row.pk}).context["adminform"].form
    initial = add_form.initial
    assert (initial["model"], initial["cache_write_mtok"], initial["tiers"]["input"]) == (
        "claude-sonnet-4-5",
        Decimal("3.75"),
        [{"start": 200000, "price": "6"}],
    )
    assert add_form["source"].value() == PriceSource.ADMIN
    assert add_form["effective_from"].value() is None
