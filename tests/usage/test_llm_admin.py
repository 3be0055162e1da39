"""Re-pricing, the unpriced-usage page, reconciliation and the ingest keys in the admin."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from costledger.models import CostEntry, Source
from costledger.services import cost_entries_upsert
from tests.factories import cost_entry
from usage.events import UsageEvent, llm_events_record
from usage.keys import ingest_key_check
from usage.models import IngestKey, LlmUsageDaily, LlmUsageEvent, ModelPrice

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)


def record(model="acme-1", n=3, **fields):
    from datetime import UTC, datetime

    llm_events_record(
        events=[
            UsageEvent(
                event_id=f"{model}-{i}",
                timestamp=datetime(2026, 11, 20, 9, tzinfo=UTC),
                provider="acme",
                model=model,
                user_id="u1",
                input_tokens=1_000_000,
                output_tokens=100_000,
                **fields,
            )
            for i in range(n)
        ]
    )


def acme_price():
    return ModelPrice.objects.create(
        provider="acme", model="acme-1", effective_from=date(2026, 11, 1),
        input_mtok=Decimal("1"), output_mtok=Decimal("4"),
    )  # fmt: skip


def test_reprice_costs_unpriced_events_once_the_price_exists_and_logs_it():
    record()
    assert LlmUsageDaily.objects.get().unpriced_requests == 3
    acme_price()
    out = StringIO()
    call_command("reprice", "--since", "2026-11-01", "--until", "2026-11-30", stdout=out)
    assert "acme/acme-1: 3 events re-priced" in out.getvalue()
    assert "3 newly priced" in out.getvalue()
    assert set(LlmUsageEvent.objects.values_list("cost", flat=True)) == {Decimal("1.4")}
    rollup = LlmUsageDaily.objects.get()
    assert (rollup.unpriced_requests, rollup.cost) == (0, Decimal("4.2"))
    assert CostEntry.objects.get(source=Source.USAGE).billed_cost == Decimal("4.2")
    again = StringIO()
    call_command("reprice", "--since", "2026-11-01", "--until", "2026-11-30", stdout=again)
    assert "Nothing changed" in again.getvalue()


def test_reprice_of_one_model_leaves_the_others():
    record()
    record(model="acme-2")
    acme_price()
    ModelPrice.objects.create(
        provider="acme",
        model="acme-2",
        effective_from=date(2026, 1, 1),
        input_mtok=1,
        output_mtok=1,
    )
    call_command(
        "reprice",
        "--since",
        "2026-11-20",
        "--until",
        "2026-11-20",
        "--model",
        "acme-1",
        stdout=StringIO(),
    )
    assert LlmUsageEvent.objects.filter(model="acme-2", cost__isnull=True).count() == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-11-01"], "required"),
        (["--since", "11/01/2026", "--until", "2026-11-30"], "is not a date"),
        (["--since", "2026-11-30", "--until", "2026-11-01"], "is before --since"),
    ],
)
def test_reprice_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("reprice", *args, stdout=StringIO())


def test_unpriced_usage_is_shown_prominently_and_can_be_priced_from_the_page(admin_client):
    record()
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Some LLM usage has no price" in index
    page = admin_client.get(reverse("admin:llm_unpriced"))
    assert [(m.model, m.requests) for m in page.context["models"]] == [("acme-1", 3)]
    assert "Add price" in page.content.decode()
    acme_price()
    form = {"model": "acme-1", "since": "2026-11-20", "until": "2026-11-20"}
    response = admin_client.post(reverse("admin:llm_unpriced"), form, follow=True)
    assert "3 events of acme-1 are priced now" in response.content.decode()
    assert not LlmUsageEvent.objects.filter(cost__isnull=True).exists()
    assert (
        "Some LLM usage has no price"
        not in admin_client.get(reverse("admin:index")).content.decode()
    )


def test_repricing_from_the_page_needs_the_price_book_permission(client, viewer_user):
    record()
    client.force_login(viewer_user)
    assert client.get(reverse("admin:llm_unpriced")).status_code == 200
    form = {"model": "acme-1", "since": "2026-11-20", "until": "2026-11-20"}
    assert client.post(reverse("admin:llm_unpriced"), form).status_code == 403


def test_reconciliation_puts_computed_beside_billed(admin_client):
    cost_entries_upsert(
        entries=[
            cost_entry(
                provider="openai",
                day=DAY,
                amount="10.00",
                source=Source.USAGE,
                service="gpt-4o",
                reference="events",
            ),
            cost_entry(
                provider="openai",
                day=DAY,
                amount="9.50",
                source=Source.USAGE,
                service="gpt-4o",
                reference="prometheus",
            ),
            cost_entry(
                provider="openai",
                day=DAY,
                amount="10.40",
                source=Source.API,
                service="gpt-4o, input",
            ),
        ]
    )
    rows = admin_client.get(reverse("admin:llm_reconciliation")).context["rows"]
    row = next(r for r in rows if r.provider == "openai")
    assert (row.computed, row.billed, row.difference) == (
        Decimal("10.00"),
        Decimal("10.40"),
        Decimal("-0.40"),
    )
    assert round(row.difference_percent, 2) == Decimal("-3.85")


def test_an_ingest_key_is_shown_once_and_stored_hashed(admin_client):
    response = admin_client.post(reverse("admin:usage_ingestkey_add"), {"name": "backend"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    full = response.context["full_key"]
    key = IngestKey.objects.get()
    assert full not in (key.key_hash, key.prefix) and full.startswith("clk_")
    assert ingest_key_check(presented=full) == key
    listing = admin_client.get(reverse("admin:usage_ingestkey_changelist")).content.decode()
    assert full not in listing
    admin_client.post(
        reverse("admin:usage_ingestkey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    assert ingest_key_check(presented=full) is None


def test_an_ingest_key_needs_a_unique_name(admin_client):
    admin_client.post(reverse("admin:usage_ingestkey_add"), {"name": "backend"})
    response = admin_client.post(reverse("admin:usage_ingestkey_add"), {"name": "backend"})
    assert "already exists" in response.content.decode()
    assert IngestKey.objects.count() == 1


def test_creating_an_ingest_key_needs_the_permission(client, viewer_user, staff_user):
    for user in (viewer_user, staff_user):
        client.force_login(user)
        response = client.post(reverse("admin:usage_ingestkey_add"), {"name": "backend"})
        assert response.status_code == 403
    assert not IngestKey.objects.exists()


@time_machine.travel("2026-11-21 10:00:00+00:00", tick=False)
def test_reconciliation_takes_the_report_periods(admin_client):
    for day, billed in ((date(2026, 10, 30), "4.00"), (date(2026, 11, 2), "6.00")):
        cost_entries_upsert(
            entries=[cost_entry(provider="openai", day=day, amount=billed, source=Source.API,
                                service="gpt-4o, input")]
        )  # fmt: skip
    page = admin_client.get(
        reverse("admin:llm_reconciliation"), {"start": "2026-10-31", "end": "2026-11-30"}
    )
    assert [(r.month, r.billed) for r in page.context["rows"]] == [
        (date(2026, 11, 1), Decimal("6.00"))  # Oct 30 is outside the range
    ]
    assert page.context["period"].key == "custom"
    everything = admin_client.get(reverse("admin:llm_reconciliation")).context["rows"]
    assert [r.billed for r in everything] == [Decimal("4.00"), Decimal("6.00")]
