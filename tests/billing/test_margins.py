"""Margin per customer on a hand-computed November 2026 (reporting currency USD).

Acme (FR, VAT 20 %): plan fee 100.00 USD -> invoice 120.00 of which 100.00 net; a credit note of
10.00 net -> invoiced 90.00; Stripe collected 50.00 from cus_Acme -> revenue 140.00. LLM: two
requests costing 20.00 + 10.00 = 30.00.
Globex (US, no VAT): plan fee 20.00 -> revenue 20.00. LLM: one request of 60.00. Unprofitable.
Unassigned: u-nobody's request of 10.00; Stripe's cus_Other (linked to nobody) paid 5.00.
Shared: DigitalOcean 100.00 + Twilio 20.00 + Stripe fees 3.33 = 123.33 (in cents: 12,333).

By share of LLM cost (30 : 60 : 10): quotas 3,699.9 / 7,399.8 / 1,233.3 cents -> floors 3,699 /
7,399 / 1,233 = 12,331; the 2 cents left go to the largest remainders (.9 Acme, .8 Globex):
Acme 37.00, Globex 74.00, unassigned 12.33 (sum 123.33).
Margins: Acme 140.00 - 30.00 - 37.00 = 73.00 (52.142857 %); Globex 20.00 - 60.00 - 74.00 =
-114.00 (-570 %); unassigned 5.00 - 10.00 - 12.33 = -17.33.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import strategies as st

from billing.issuing import billing_run, invoice_finalize
from billing.margins import customer_margin_trend, customer_margins, month_pieces
from billing.models import CostAllocation, Invoice
from costledger.models import CustomerRevenue, Source
from costledger.money import allocate_by_weights, round_money
from costledger.services import cost_entries_upsert, exchange_rate_set
from tests.billing.conftest import NOVEMBER, customer, plan
from tests.factories import cost_entry

pytestmark = pytest.mark.django_db
END = date(2026, 11, 30)


def _figures(party):
    return tuple(
        round_money(v, "USD")
        for v in (party.invoiced, party.stripe, party.revenue, party.llm_cost, party.allocated,
                  party.margin)
    )  # fmt: skip


def test_a_month_with_two_customers_one_unprofitable(world):
    acme, globex = world
    margins = customer_margins(start=NOVEMBER, end=END)
    rows = margins.rows()
    assert [c.name for c, _ in rows] == ["Globex", "Acme"]  # lowest margin first
    by_name = {c.name: p for c, p in rows}
    D = Decimal
    assert _figures(by_name["Acme"]) == (D("90"), D("50"), D("140"), D("30"), D("37"), D("73"))
    assert _figures(by_name["Globex"]) == (D("20"), D("0"), D("20"), D("60"), D("74"), D("-114"))
    assert by_name["Acme"].margin_percent.quantize(D("0.000001")) == D("52.142857")
    assert by_name["Globex"].margin_percent == D(-570)
    assert _figures(margins.unassigned) == (
        D("0"), D("5"), D("5"), D("10"), D("12.33"), D("-17.33")
    )  # fmt: skip
    assert (by_name["Acme"].requests, by_name["Globex"].requests) == (2, 1)
    total = margins.total
    assert round_money(total.allocated, "USD") == margins.shared_cost == D("123.33")
    assert round_money(total.margin, "USD") == D("73") - D("114") - D("17.33")


def test_the_allocation_is_stored_with_its_rule_basis_and_ratios(world):
    acme, globex = world
    customer_margins(start=NOVEMBER, end=END)
    allocation = CostAllocation.objects.get()
    assert (allocation.start, allocation.end) == (NOVEMBER, END)
    assert (allocation.rule, allocation.applied_rule) == ("llm_cost", "llm_cost")
    assert allocation.shared_cost == Decimal("123.33")
    assert {k: Decimal(v) for k, v in allocation.shared_by_category.items()} == {
        "infrastructure": Decimal("100"), "communications": Decimal("20"),
        "payments": Decimal("3.33"),
    }  # fmt: skip
    assert allocation.basis_total == Decimal(100)
    shares = {s.customer_id: (s.basis, s.ratio, s.amount) for s in allocation.shares.all()}
    assert shares == {
        acme.pk: (Decimal(30), Decimal("0.3"), Decimal("37.00")),
        globex.pk: (Decimal(60), Decimal("0.6"), Decimal("74.00")),
        None: (Decimal(10), Decimal("0.1"), Decimal("12.33")),
    }
    assert sum(s[2] for s in shares.values()) == allocation.shared_cost


def test_an_unchanged_month_is_not_rewritten_and_a_changed_one_is(world):
    customer_margins(start=NOVEMBER, end=END)
    first = CostAllocation.objects.get()
    customer_margins(start=NOVEMBER, end=END)
    assert CostAllocation.objects.get().computed_at == first.computed_at
    cost_entries_upsert(
        entries=[cost_entry(provider="twilio", day=date(2026, 11, 10), amount="0.01",
                            source=Source.API, service="totalprice")]
    )  # fmt: skip
    margins = customer_margins(start=NOVEMBER, end=END)
    assert CostAllocation.objects.count() == 1
    assert CostAllocation.objects.get().shared_cost == Decimal("123.34")
    assert sum(p.allocated for p in margins.parties.values()) == Decimal("123.34")


@pytest.mark.parametrize(
    ("rule", "acme", "globex", "unassigned"),
    [
        # requests 2 : 1 : 1 -> 6,166.5 / 3,083.25 / 3,083.25 cents; 1 cent left -> Acme
        ("requests", "61.67", "30.83", "30.83"),
        # the two active customers: 6,166.5 each; the cent left to the first
        ("even", "61.67", "61.66", "0"),
    ],
)
def test_the_other_rules(world, settings, rule, acme, globex, unassigned):
    settings.COST_ALLOCATION_RULE = rule
    margins = customer_margins(start=NOVEMBER, end=END)
    by_name = {c.name: p.allocated for c, p in margins.rows()}
    assert (by_name["Acme"], by_name["Globex"], margins.unassigned.allocated) == (
        Decimal(acme), Decimal(globex), Decimal(unassigned)
    )  # fmt: skip
    assert CostAllocation.objects.get().applied_rule == rule


def test_a_month_without_llm_cost_is_shared_evenly_and_says_so(settings):
    cost_entries_upsert(
        entries=[cost_entry(provider="twilio", day=date(2026, 11, 9), amount="10.00",
                            source=Source.API, service="totalprice")]
    )  # fmt: skip
    a = customer(plan("A", currency="USD", fee="10"), "u-a", name="A", country="US")
    b = customer(plan("B", currency="USD", fee="10"), "u-b", name="B", country="US")
    billing_run(month=NOVEMBER)
    margins = customer_margins(start=NOVEMBER, end=END)
    allocation = CostAllocation.objects.get()
    assert (allocation.rule, allocation.applied_rule) == ("llm_cost", "even")
    assert "shared evenly" in allocation.note
    # drafts are not revenue, so neither is active: the cost stays with "unassigned"
    assert margins.unassigned.allocated == Decimal("10.00")
    for invoice in Invoice.objects.all():
        invoice_finalize(invoice_id=invoice.pk)
    margins = customer_margins(start=NOVEMBER, end=END)
    assert {c.pk: p.allocated for c, p in margins.rows()} == {
        a.pk: Decimal("5.00"), b.pk: Decimal("5.00")
    }  # fmt: skip


def test_a_range_is_cut_into_months_and_a_part_month_takes_its_days(world):
    margins = customer_margins(start=date(2026, 11, 16), end=date(2026, 12, 1))
    assert [(p.start, p.end) for p in margins.pieces] == [
        (date(2026, 11, 16), END), (date(2026, 12, 1), date(2026, 12, 1))
    ]  # fmt: skip
    acme = {c.name: p for c, p in margins.rows()}["Acme"]
    # 15 of November's 30 days of the 90.00 invoiced; the Stripe payment of the 15th is out
    assert (acme.invoiced, acme.stripe, acme.llm_cost) == (Decimal(45), Decimal(0), Decimal(10))
    # DigitalOcean's 100.00 spread over 30 days is 10 days of 3.34 then 20 of 3.33: the 16th
    # to the 30th are 15 x 3.33 = 49.95, the only shared cost of that part
    assert margins.pieces[0].allocation.shared_cost == Decimal("49.95")


def test_amounts_in_other_currencies_are_converted_and_a_missing_rate_is_named(world):
    CustomerRevenue.objects.create(
        day=date(2026, 11, 20), provider="stripe", customer_ref="cus_Acme", currency="EUR",
        amount=Decimal("10.00"), paid=Decimal("10.00"), invoices=1,
    )  # fmt: skip
    margins = customer_margins(start=NOVEMBER, end=END)
    acme = {c.name: p for c, p in margins.rows()}["Acme"]
    assert acme.stripe == Decimal(50) and acme.missing_rates == {"EUR"}
    exchange_rate_set(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.1"))
    acme = {c.name: p for c, p in customer_margins(start=NOVEMBER, end=END).rows()}["Acme"]
    assert acme.stripe == Decimal(61) and not acme.missing_rates


def test_the_trend_of_a_customer_is_one_row_per_month(world):
    acme, _ = world
    trend = customer_margin_trend(customer=acme, months=3)
    assert [m.month for m in trend] == [date(2026, 10, 1), NOVEMBER, date(2026, 12, 1)]
    november = trend[1]
    assert round_money(november.party.margin, "USD") == Decimal(73)
    assert november.share.ratio == Decimal("0.3")


def test_month_pieces():
    assert month_pieces(date(2026, 1, 31), date(2026, 3, 1)) == [
        (date(2026, 1, 31), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 1)),
    ]


@given(
    amount=st.decimals(min_value=-(10**12), max_value=10**12, places=10, allow_nan=False),
    weights=st.lists(
        st.decimals(min_value=0, max_value=10**15, places=10, allow_nan=False),
        min_size=1,
        max_size=30,
    ).filter(any),
    currency=st.sampled_from(["USD", "JPY", "BHD"]),
)
def test_shares_always_add_up_to_the_cent(amount, weights, currency):
    shares = allocate_by_weights(amount, currency, weights)
    assert sum(shares) == round_money(amount, currency)
    total = sum(weights)
    quantum = Decimal(1).scaleb(-{"USD": 2, "JPY": 0, "BHD": 3}[currency])
    for share, weight in zip(shares, weights, strict=True):
        exact = round_money(amount, currency) * weight / total
        assert abs(share - exact) < quantum


def test_parts_of_a_month_add_up_to_the_month_in_another_currency(settings):
    """A 100 EUR invoice (FR, 20 % VAT: 100.00 net), converted at its month's last day
    (1.20), whatever part of the month is asked: 15 + 15 days = 60.00 + 60.00 = 120.00."""
    exchange_rate_set(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"))
    exchange_rate_set(day=date(2026, 11, 30), currency="EUR", rate=Decimal("1.20"))
    customer(plan("EUR plan", currency="EUR", fee="100"), "u-eur", name="Euro SA")
    billing_run(month=NOVEMBER)
    invoice_finalize(invoice_id=Invoice.objects.get().pk)

    def invoiced(start, end):
        ((_, party),) = customer_margins(start=start, end=end).rows()
        return party.invoiced

    first, second = invoiced(NOVEMBER, date(2026, 11, 15)), invoiced(date(2026, 11, 16), END)
    assert (first, second, invoiced(NOVEMBER, END)) == (Decimal(60), Decimal(60), Decimal(120))


def test_only_whole_months_that_have_started_are_stored(world):
    cost_entries_upsert(
        entries=[
            cost_entry(provider="twilio", day=day, amount="1.00", source=Source.API,
                       service="totalprice")
            for day in (date(2026, 10, 5), date(2026, 12, 1), date(2027, 1, 5))
        ]
    )  # fmt: skip
    customer_margins(start=date(2026, 11, 10), end=date(2027, 2, 28))
    # part of November: not kept; December (the month in progress): kept; January on: not yet
    assert list(CostAllocation.objects.values_list("start", "end")) == [
        (date(2026, 12, 1), date(2026, 12, 31))
    ]
    customer_margins(start=date(2026, 10, 1), end=date(2026, 11, 30))
    assert sorted(CostAllocation.objects.values_list("start", flat=True)) == [
        date(2026, 10, 1), NOVEMBER, date(2026, 12, 1)
    ]  # fmt: skip


def test_a_stripe_customer_id_links_one_customer_only(world):
    acme, globex = world
    globex.stripe_customer_id = acme.stripe_customer_id
    with pytest.raises(ValidationError) as refused:
        globex.full_clean()
    assert "Acme is already linked to cus_Acme" in str(refused.value.message_dict)
    with pytest.raises(IntegrityError), transaction.atomic():
        globex.save()


def test_months_with_nothing_to_share_are_not_stored(world):
    customer_margins(start=date(2024, 1, 1), end=date(2026, 10, 31))  # 34 empty months
    assert not CostAllocation.objects.exists()
