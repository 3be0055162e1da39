"""`manage.py load_prices`: the pinned genai-prices data into ModelPrice rows, idempotently."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from usage.models import ModelPrice, PriceSource

pytestmark = pytest.mark.django_db


def load_prices(*args) -> str:
    out = StringIO()
    call_command("load_prices", *args, stdout=out)
    return out.getvalue()


def package_rows():
    return sorted(
        ModelPrice.objects.filter(source=PriceSource.PACKAGE).values_list(
            "provider", "model", "effective_from", "input_mtok", "output_mtok",
            "cache_read_mtok", "cache_write_mtok", "per_request", "per_image", "tiers", "notes",
            "updated_at",
        )
    )  # fmt: skip


def row(provider, model, effective_from=date(2000, 1, 1)):
    return ModelPrice.objects.get(
        provider=provider, model=model, effective_from=effective_from, source=PriceSource.PACKAGE
    )


def test_load_prices_writes_the_package_rows_and_says_how_many():
    out = load_prices()
    count = ModelPrice.objects.filter(source=PriceSource.PACKAGE).count()
    assert count > 2000
    assert f": {count} price rows written, 0 unchanged" in out


def test_a_second_run_writes_nothing_and_changes_nothing():
    load_prices()
    before = package_rows()
    out = load_prices()
    assert ": 0 price rows written" in out
    assert package_rows() == before


def test_a_changed_row_is_put_back_and_admin_rows_are_never_touched():
    load_prices()
    admin = ModelPrice.objects.create(
        provider="openai",
        model="gpt-4o",
        effective_from=date(2000, 1, 1),
        source=PriceSource.ADMIN,
        input_mtok=Decimal("1"),
    )
    ModelPrice.objects.filter(pk=row("openai", "gpt-4o").pk).update(input_mtok=Decimal("9"))
    assert ": 1 price rows written" in load_prices()
    assert row("openai", "gpt-4o").input_mtok == Decimal("2.5")
    admin.refresh_from_db()
    assert (admin.input_mtok, admin.source) == (Decimal("1"), PriceSource.ADMIN)


def test_prices_columns_from_the_package():
    load_prices()
    gpt_4o = row("openai", "gpt-4o")
    assert (gpt_4o.input_mtok, gpt_4o.output_mtok, gpt_4o.cache_read_mtok) == (
        Decimal("2.5"),
        Decimal("10"),
        Decimal("1.25"),
    )
    assert (gpt_4o.cache_write_mtok, gpt_4o.per_request, gpt_4o.per_image) == (None, None, None)
    assert gpt_4o.currency == "USD"
    assert "Not loaded from genai-prices: storage_searches_kcount, web_searches_kcount." in (
        gpt_4o.notes
    )


def test_tiers_and_the_five_minute_cache_write():
    load_prices()
    sonnet = row("anthropic", "claude-sonnet-4-5")
    assert sonnet.cache_write_mtok == Decimal("3.75")  # 5-minute writes; 1-hour ones are $6
    assert sonnet.tiers == {
        "input": [{"start": 200000, "price": "6"}],
        "output": [{"start": 200000, "price": "22.5"}],
        "cache_read": [{"start": 200000, "price": "0.6"}],
        "cache_write": [{"start": 200000, "price": "7.5"}],
    }
    assert "cache_write_1h_mtok" in sonnet.notes
    assert "Price variants not applied: processing=batch." in sonnet.notes


def test_start_dates_become_effective_dates():
    load_prices()
    o3 = ModelPrice.objects.filter(provider="openai", model="o3").order_by("effective_from")
    assert [(p.effective_from, p.input_mtok, p.output_mtok) for p in o3] == [
        (date(2000, 1, 1), Decimal("10"), Decimal("40")),
        (date(2025, 6, 10), Decimal("2"), Decimal("8")),
    ]


def test_per_request_price_is_per_thousand_divided_by_a_thousand():
    load_prices()
    assert row("perplexity", "sonar").per_request == Decimal("0.012")  # $12 per 1,000
    assert row("perplexity", "sonar-pro").per_request == Decimal("0.014")


def test_time_of_day_prices_are_left_out_and_said_so():
    out = load_prices("-v", "2")
    assert "left out: deepseek/deepseek-chat: time-of-day prices" in out
    rows = ModelPrice.objects.filter(provider="deepseek", model="deepseek-chat")
    assert [p.effective_from for p in rows] == [date(2000, 1, 1)]
    assert "Time-of-day prices in genai-prices" in rows[0].notes


def test_models_priced_only_by_audio_are_left_out():
    out = load_prices("-v", "2")
    assert "left out: groq/whisper-large-v3: no token or request price (audio_hours" in out
    assert not ModelPrice.objects.filter(provider="groq", model="whisper-large-v3").exists()


def test_free_models_are_priced_at_zero():
    load_prices()
    free = row("openrouter", "qwen/qwq-32b:free")
    assert (free.input_mtok, free.output_mtok) == (Decimal("0"), Decimal("0"))


def test_float_digits_in_the_package_are_rounded_to_the_column_and_said_so():
    load_prices()
    qwen = row("huggingface_together", "Qwen/Qwen3-VL-8B-Instruct")
    assert qwen.input_mtok == Decimal("0.18")
    assert "input_mtok 0.18000000000000002 in genai-prices, rounded to 0.18000000." in qwen.notes
