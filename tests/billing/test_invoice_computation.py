"""Invoices computed from usage stored through the real ingest path, against figures computed by
hand: each charge model, each discount kind, each SLA tier, each tax rule, and the rounding
order (per line, then discounts, SLA credit, true-up, VAT once per rate)."""

from datetime import date
from decimal import Decimal

import pytest

from billing.invoices import InvoiceNotComputable, billing_context, invoice_compute
from billing.issuing import billing_run
from billing.models import Discount, Invoice, SlaCreditTier, SlaUptime
from billing.taxes import EXPORT_MENTION, REVERSE_CHARGE_MENTION
from costledger.models import ExchangeRate
from tests.billing.conftest import NOVEMBER, customer, plan, record

pytestmark = pytest.mark.django_db
D = Decimal


def computed(who):
    return invoice_compute(customer=who, context=billing_context(month=NOVEMBER))


def amounts(invoice) -> list[tuple[str, Decimal]]:
    return [(line.kind, line.amount) for line in invoice.lines]


def test_per_unit_tokens_and_a_fee_with_french_vat():
    """49.00 fee; 12,345,678 input tokens at 2.50 per 1M = 30.864195 -> 30.86; 1,234,567
    output tokens at 10 per 1M = 12.34567 -> 12.35. Base 92.21, VAT 20 % = 18.442 -> 18.44,
    total 110.65."""
    record("u1", input_tokens=12_000_000, output_tokens=1_000_000)
    record("u2", input_tokens=345_678, output_tokens=234_567)
    record("someone-else", input_tokens=99_000_000)  # not the customer's
    pro = plan(fee="49", charges=[
        {"metric": "input_tokens", "unit": "1m", "unit_price": D("2.5")},
        {"metric": "output_tokens", "unit": "1m", "unit_price": D("10")},
    ])  # fmt: skip
    invoice = computed(customer(pro, "u1", "u2"))
    assert amounts(invoice) == [("fee", D("49")), ("usage", D("30.86")), ("usage", D("12.35"))]
    assert invoice.lines[1].quantity == D("12.345678")
    assert invoice.subtotal == invoice.taxable_base == D("92.21")
    assert (invoice.taxes[0].rate, invoice.tax_total) == (D("0.2"), D("18.44"))
    assert invoice.taxes[0].name == "TVA 20 %"
    assert (invoice.total, invoice.tax_rule) == (D("110.65"), "domestic")


def test_graduated_tiers_per_request():
    """2,500 requests, graduated: the first 1,000 at 0.02, up to 2,000 at 0.015 plus a 5.00
    flat fee, above at 0.01: 20 + (15 + 5) + 5 = 45.00."""
    for _ in range(5):
        record("u1")  # 5 requests
    pro = plan(charges=[{"metric": "requests", "unit": "1", "charge_model": "graduated",
                         "tiers": "1000 0.02\n2000 0.015 5\n* 0.01"}])  # fmt: skip
    assert computed(customer(pro, "u1")).lines[0].amount == D("0.10")  # 5 x 0.02


def test_graduated_tiers_over_three_tiers_per_1k_tokens():
    """2,500,000 input tokens = 2,500 units of 1K, graduated: the first 1,000 at 0.02, up to
    2,000 at 0.015 plus a 5.00 flat fee, above at 0.01: 20 + (15 + 5) + 5 = 45.00."""
    record("u1", input_tokens=2_500_000)
    pro = plan(charges=[{"metric": "input_tokens", "unit": "1k", "charge_model": "graduated",
                         "tiers": "1000 0.02\n2000 0.015 5\n* 0.01"}])  # fmt: skip
    line = computed(customer(pro, "u1")).lines[0]
    assert (line.quantity, line.unit, line.amount) == (D("2500"), "1K tokens", D("45.00"))
    assert [D(step["amount"]) for step in line.detail["steps"]] == [20, 20, 5]


def test_volume_tiers_on_streaming_minutes():
    """90 minutes and 30 seconds streamed (5,430,000 ms = 90.5 minutes): volume tiers, up to 60
    minutes at 0.05, above at 0.04: every minute at 0.04 = 3.62."""
    record("u1", stream_duration_ms=5_000_000)
    record("u1", stream_duration_ms=430_000)
    pro = plan(charges=[{"metric": "stream_minutes", "unit": "minute", "charge_model": "volume",
                         "tiers": "60 0.05\n* 0.04"}])  # fmt: skip
    line = computed(customer(pro, "u1")).lines[0]
    assert (line.quantity, line.unit, line.amount) == (D("90.5"), "minutes", D("3.62"))


def test_package_of_bandwidth_rounded_up_per_gb_and_per_package():
    """2,500,000,001 bytes = 2.500000001 GB, rounded up to 2.501 GB; packages of 1 GB at
    0.90: 3 packages = 2.70."""
    record("u1", bandwidth_bytes=2_500_000_001)
    pro = plan(charges=[{"metric": "bandwidth_gb", "unit": "gb", "charge_model": "package",
                         "package_size": 1, "unit_price": D("0.9")}])  # fmt: skip
    line = computed(customer(pro, "u1")).lines[0]
    assert (line.quantity, line.amount) == (D("2.501"), D("2.70"))
    assert line.detail["steps"][0]["packages"] == "3"


def test_images_per_unit_filtered_by_provider_and_model():
    """Images of openai/gpt-image-1 only: 7 at 0.04 = 0.28; the 100 of another model are not
    counted by this charge."""
    record("u1", model="gpt-image-1", images=7)
    record("u1", model="other-image", images=100)
    pro = plan(charges=[{"metric": "images", "unit": "1", "unit_price": D("0.04"),
                         "provider": "openai", "model": "gpt-image-1"}])  # fmt: skip
    assert computed(customer(pro, "u1")).lines[0].amount == D("0.28")


def test_llm_cost_plus_a_markup_converted_to_the_customers_currency():
    """LLM cost reported 10.00 USD; 1 EUR = 1.25 USD (reporting USD): 8.00 EUR; +20 % = 9.60."""
    record("u1", cost="10")
    ExchangeRate.objects.create(day=date(2026, 11, 1), currency="EUR", rate=D("1.25"))
    pro = plan(charges=[{"metric": "llm_cost", "unit": "1", "markup_percent": D("20")}])
    line = computed(customer(pro, "u1")).lines[0]
    assert (line.quantity, line.unit_price, line.amount) == (D("8"), D("1.2"), D("9.60"))
    assert line.detail["llm_cost_usd"] == "10.0000000000"


def test_llm_cost_without_an_exchange_rate_is_not_computed_and_says_what_to_enter():
    record("u1", cost="10")
    pro = plan(charges=[{"metric": "llm_cost", "unit": "1", "markup_percent": D("0")}])
    with pytest.raises(InvoiceNotComputable, match="No exchange rate of EUR on or before"):
        computed(customer(pro, "u1"))


def test_unpriced_usage_is_not_charged_at_zero_silently():
    record("u1", model="mystery-model", input_tokens=1_000)
    pro = plan(currency="USD", charges=[{"metric": "llm_cost", "unit": "1",
                                         "markup_percent": D("0")}])  # fmt: skip
    invoice = computed(customer(pro, "u1", country="US"))
    assert "1 request had no price" in invoice.warnings[0]


def test_rounding_per_line_then_vat_once_differs_from_rounding_the_document():
    """Three lines of exactly 0.005 each (5 requests, 5 images, 5 input tokens at 0.001): per
    line 0.01 each = 0.03, where the unrounded document would be 0.015 -> 0.02. VAT 20 % once
    on 0.03 = 0.006 -> 0.01, where VAT per line would be 3 x 0.002 -> 0.00. Total 0.04."""
    for _ in range(5):
        record("u1", images=1, input_tokens=1)
    price = {"unit": "1", "unit_price": D("0.001")}
    pro = plan(charges=[{"metric": m, **price} for m in ("requests", "images", "input_tokens")])
    invoice = computed(customer(pro, "u1"))
    assert [line.amount for line in invoice.lines] == [D("0.01")] * 3
    assert (invoice.taxable_base, invoice.tax_total, invoice.total) == (
        D("0.03"), D("0.01"), D("0.04"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("discounts", "expected"),
    [
        # 10 % of 333.33 = 33.333 -> 33.33
        ([("percent", "10", "forever", None, NOVEMBER)], [D("-33.33")]),
        ([("fixed", "50", "once", None, NOVEMBER)], [D("-50")]),
        # a fixed discount larger than the lines stops at them
        ([("fixed", "500", "forever", None, NOVEMBER)], [D("-333.33")]),
        # once, in October: not in November
        ([("percent", "10", "once", None, date(2026, 10, 1))], []),
        # 2 months from October: October and November
        ([("percent", "10", "months", 2, date(2026, 10, 1))], [D("-33.33")]),
        # 1 month from October: October only
        ([("percent", "10", "months", 1, date(2026, 10, 1))], []),
        # starts in December
        ([("percent", "10", "forever", None, date(2026, 12, 1))], []),
        # one after the other: 10 % of 333.33, then 20 % of the 300.00 left = 60.00
        ([("percent", "10", "forever", None, NOVEMBER),
          ("percent", "20", "forever", None, NOVEMBER)], [D("-33.33"), D("-60.00")]),
    ],
)  # fmt: skip
def test_discounts_on_the_sum_of_lines(discounts, expected):
    pro = plan(fee="333.33")
    who = customer(pro)
    for kind, value, duration, months, starts in discounts:
        Discount.objects.create(
            customer=who, description="Deal", kind=kind, value=D(value), duration=duration,
            months=months, starts_on=starts,
        )  # fmt: skip
    invoice = computed(who)
    assert [line.amount for line in invoice.lines if line.kind == "discount"] == expected
    assert invoice.discount_total == -sum(expected, D(0))


@pytest.mark.parametrize(
    ("uptime", "credit"),
    [
        ("99.95", None),  # above the target
        ("99.9", None),  # on the target: met
        ("99.5", D("-100.00")),  # below 99.9: 10 % of 1,000.00
        ("98.0", D("-250.00")),  # below 99.0: 25 %
        ("90.0", D("-300.00")),  # below 95.0: 50 %, capped at 30 %
    ],
)
def test_sla_credit_tiers_and_cap(uptime, credit):
    pro = plan(fee="1000", sla_target=D("99.9"), sla_credit_cap=D("30"))
    for below, percent in (("99.9", "10"), ("99.0", "25"), ("95.0", "50")):
        SlaCreditTier.objects.create(plan=pro, below=D(below), credit=D(percent))
    who = customer(pro)
    SlaUptime.objects.create(month=NOVEMBER, uptime=D(uptime), incident_reference="INC-7")
    invoice = computed(who)
    sla = [line for line in invoice.lines if line.kind == "sla_credit"]
    assert [line.amount for line in sla] == ([credit] if credit else [])
    if credit:
        assert (
            "INC-7" in sla[0].description
            and f"uptime {D(uptime).normalize():f} %" in sla[0].description
        )
        assert invoice.taxable_base == D("1000") + credit


def test_a_customers_own_uptime_wins_over_the_one_for_all():
    pro = plan(fee="100", sla_target=D("99.9"))
    SlaCreditTier.objects.create(plan=pro, below=D("99.9"), credit=D("10"))
    who = customer(pro)
    SlaUptime.objects.create(month=NOVEMBER, uptime=D("98"), incident_reference="all")
    SlaUptime.objects.create(month=NOVEMBER, customer=who, uptime=D("100"), incident_reference="x")
    assert computed(who).sla_credit == 0


def test_discount_then_sla_credit_then_minimum_true_up_in_that_order():
    """Lines 800.00; 10 % discount = 80.00 -> 720.00; SLA 10 % of 720.00 = 72.00 -> 648.00;
    minimum 1,000.00: true-up 352.00; base 1,000.00; VAT 20 % = 200.00."""
    pro = plan(fee="800", minimum_commitment=D("1000"), sla_target=D("99.9"))
    SlaCreditTier.objects.create(plan=pro, below=D("99.9"), credit=D("10"))
    who = customer(pro)
    Discount.objects.create(customer=who, description="Deal", kind="percent", value=D("10"),
                            duration="forever", starts_on=NOVEMBER)  # fmt: skip
    SlaUptime.objects.create(month=NOVEMBER, uptime=D("99.5"), incident_reference="INC-1")
    invoice = computed(who)
    assert amounts(invoice) == [
        ("fee", D("800")), ("discount", D("-80")), ("sla_credit", D("-72")),
        ("minimum", D("352")),
    ]  # fmt: skip
    assert (invoice.taxable_base, invoice.tax_total, invoice.total) == (
        D("1000"), D("200"), D("1200"),
    )  # fmt: skip


def test_no_true_up_above_the_commitment():
    invoice = computed(customer(plan(fee="1200", minimum_commitment=D("1000"))))
    assert invoice.minimum_true_up == 0 and [k for k, _ in amounts(invoice)] == ["fee"]


@pytest.mark.parametrize(
    ("country", "vat_number", "override", "rule", "rate", "mention"),
    [
        ("FR", "", None, "domestic", D("0.2"), ""),
        ("DE", "DE136695976", None, "reverse_charge", D("0"), REVERSE_CHARGE_MENTION),
        ("DE", "", None, "eu_consumer", D("0.2"), ""),
        ("US", "", None, "export", D("0"), EXPORT_MENTION),
        ("FR", "", D("5.5"), "override", D("0.055"), ""),
    ],
)
def test_tax_rules(country, vat_number, override, rule, rate, mention):
    """100.00 at each rule: VAT 20.00, 0, 20.00, 0, 5.50."""
    who = customer(plan(fee="100"), country=country, vat_number=vat_number, tax_override=override)
    invoice = computed(who)
    assert (invoice.tax_rule, invoice.taxes[0].rate, invoice.tax_mention) == (rule, rate, mention)
    assert invoice.tax_total == (D("100") * rate).quantize(D("0.01"))


def test_a_plan_in_another_currency_than_the_customers_is_not_computed():
    who = customer(plan(fee="10", currency="USD"), currency="EUR")
    with pytest.raises(InvoiceNotComputable, match="give the customer a plan in its currency"):
        computed(who)


def test_a_run_reports_each_customer_and_one_failure_does_not_stop_the_others():
    record("u-broken", cost="1")
    fine = customer(plan(fee="10"), name="Fine")
    broken = customer(
        plan(name="Cost", charges=[{"metric": "llm_cost", "unit": "1", "markup_percent": D(0)}]),
        "u-broken", name="Broken",
    )  # fmt: skip
    customer(None, name="Planless")
    outcomes = {o.customer: o for o in billing_run(month=NOVEMBER)}
    assert outcomes["Fine"].outcome == "created" and outcomes["Fine"].total == D("12.00")
    assert outcomes["Broken"].outcome == "error" and "exchange rate" in outcomes["Broken"].message
    assert outcomes["Planless"].outcome == "no_plan"
    assert list(Invoice.objects.values_list("customer", flat=True)) == [fine.pk]
    assert broken.invoices.count() == 0
