"""An invoice's life: drafts refreshed by re-runs, finalisation with a gapless number under a
lock, a finalized invoice frozen by the model and by the database, credit notes, void,
payment, and the billing_run command."""

import json
import threading
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from billing.issuing import (
    InvoiceRefused,
    billing_run,
    credit_note_issue,
    invoice_finalize,
    invoice_payment_record,
    invoice_void,
)
from billing.models import FinalizedDocument, Invoice, InvoiceLine, InvoiceTax
from tests.billing.conftest import NOVEMBER, customer, plan, record

pytestmark = pytest.mark.django_db
D = Decimal
TOKENS = [{"metric": "input_tokens", "unit": "1m", "unit_price": D("2")}]


def drafted(who) -> Invoice:
    billing_run(month=NOVEMBER, customer_ids=[who.pk])
    return Invoice.objects.get(customer=who, status="draft")


def state() -> list:
    """Every invoice, line and tax as stored."""
    return [
        list(Invoice.objects.order_by("pk").values()),
        list(InvoiceLine.objects.order_by("pk").values()),
        list(InvoiceTax.objects.order_by("pk").values()),
    ]


def test_rerunning_the_month_changes_nothing_then_refreshes_the_same_draft():
    record("u1", input_tokens=1_000_000)
    customer(plan(fee="10", charges=TOKENS), "u1")
    assert [o.outcome for o in billing_run(month=NOVEMBER)] == ["created"]
    before = state()
    assert [o.outcome for o in billing_run(month=NOVEMBER)] == ["unchanged"]
    assert state() == before
    record("u1", input_tokens=500_000)  # late usage of November
    assert [o.outcome for o in billing_run(month=NOVEMBER)] == ["updated"]
    invoice = Invoice.objects.get()
    assert invoice.pk == before[0][0]["id"] and invoice.total == D("15.60")  # (10 + 3) x 1.2
    assert invoice.lines.count() == 2 and invoice.number is None


def test_a_finalized_invoice_is_never_touched_by_a_run_and_a_void_one_makes_room():
    record("u1", input_tokens=1_000_000)
    who = customer(plan(fee="10", charges=TOKENS), "u1")
    invoice = invoice_finalize(invoice_id=drafted(who).pk)
    record("u1", input_tokens=1_000_000)
    before = state()
    outcome = billing_run(month=NOVEMBER)[0]
    assert outcome.outcome == "finalized" and invoice.number in outcome.message
    assert state() == before
    invoice_void(invoice_id=invoice.pk, reason="Wrong plan")
    assert billing_run(month=NOVEMBER)[0].outcome == "created"
    assert Invoice.objects.get(status="draft").total == D("16.80")  # (10 + 4) x 1.2


def test_a_customer_with_nothing_to_invoice_gets_no_draft_and_loses_a_stale_one():
    record("u1", input_tokens=1_000)
    who = customer(plan(charges=TOKENS), "u1")
    assert billing_run(month=NOVEMBER)[0].outcome == "created"
    who.users.all().delete()  # the user moves away: no usage left
    assert billing_run(month=NOVEMBER)[0].outcome == "removed"
    assert not Invoice.objects.exists()
    assert billing_run(month=NOVEMBER)[0].outcome == "nothing"


def test_finalisation_numbers_per_year_and_never_numbers_a_draft(settings):
    settings.BILLING_INVOICE_PREFIX = "CL"
    numbers = []
    for name in ("A", "B", "C"):
        draft = drafted(customer(plan(name=name, fee="5"), name=name))
        numbers.append(invoice_finalize(invoice_id=draft.pk).number)
    assert numbers == ["CL-2026-000001", "CL-2026-000002", "CL-2026-000003"]
    with time_machine.travel("2027-01-05 09:00:00+00:00", tick=False):
        who = customer(plan(name="D", fee="5"), name="D")
        first_of_2027 = invoice_finalize(invoice_id=drafted(who).pk)
    assert first_of_2027.number == "CL-2027-000001"
    assert first_of_2027.issue_date == date(2027, 1, 5)
    assert first_of_2027.due_date == date(2027, 2, 4)  # 30 days of terms


def test_a_failed_finalisation_gives_its_number_back():
    a = drafted(customer(plan(name="A", fee="5"), name="A"))
    with pytest.raises(RuntimeError), transaction.atomic():
        invoice_finalize(invoice_id=a.pk)
        raise RuntimeError("the email server fell over")
    assert Invoice.objects.get(pk=a.pk).number is None
    assert invoice_finalize(invoice_id=a.pk).number.endswith("-000001")


def test_finalizing_before_the_month_is_over_is_refused():
    with time_machine.travel("2026-11-30 23:00:00+00:00", tick=False):
        invoice = drafted(customer(plan(fee="5")))
        with pytest.raises(InvoiceRefused, match="Finalize it from 2026-12-01 on"):
            invoice_finalize(invoice_id=invoice.pk)
    assert Invoice.objects.get().status == "draft"


def test_the_model_refuses_to_change_or_delete_a_finalized_invoice_its_lines_and_taxes():
    invoice = invoice_finalize(invoice_id=drafted(customer(plan(fee="5"))).pk)
    invoice.total = D("1")
    with pytest.raises(FinalizedDocument):
        invoice.save()
    with pytest.raises(FinalizedDocument):
        invoice.delete()
    line = invoice.lines.get()
    line.amount = D("1")
    with pytest.raises(FinalizedDocument):
        line.save()
    with pytest.raises(FinalizedDocument):
        invoice.taxes.get().delete()
    assert Invoice.objects.get().total == D("6")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE billing_invoice SET total = 1",
        "UPDATE billing_invoice SET number = 'INV-2026-999999'",
        "UPDATE billing_invoice SET customer_name = 'Someone else'",
        "UPDATE billing_invoice SET status = 'draft', number = NULL, issue_date = NULL",
        "DELETE FROM billing_invoice",
        "UPDATE billing_invoiceline SET amount = 1",
        "DELETE FROM billing_invoiceline",
        "UPDATE billing_invoicetax SET amount = 0",
        "INSERT INTO billing_invoiceline (invoice_id, position, kind, description, amount, detail)"
        " SELECT id, 99, 'fee', 'extra', 100, '{}' FROM billing_invoice",
    ],
)
def test_the_database_refuses_to_change_a_finalized_invoice(statement):
    invoice_finalize(invoice_id=drafted(customer(plan(fee="5"))).pk)
    before = state()
    with pytest.raises(IntegrityError, match="cannot"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)
    assert state() == before


def test_the_database_lets_a_finalized_invoice_be_sent_paid_and_voided():
    invoice = invoice_finalize(invoice_id=drafted(customer(plan(fee="5"))).pk)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_invoice SET sent_at = now(), paid_on = '2026-12-02'")
    assert Invoice.objects.get().paid_on == date(2026, 12, 2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            customer=invoice.customer, status="finalized", number="X-1", issue_date=NOVEMBER,
            period_start=NOVEMBER, period_end=NOVEMBER, currency="EUR", subtotal=0,
            discount_total=0, sla_credit=0, minimum_true_up=0, taxable_base=0, tax_total=0,
            total=0,
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_finalisations_take_ten_consecutive_numbers():
    drafts = [drafted(customer(plan(name=f"P{i}", fee="5"), name=f"C{i}")).pk for i in range(10)]
    barrier, numbers, errors = threading.Barrier(10), [], []

    def finalize(pk):
        try:
            barrier.wait()
            numbers.append(invoice_finalize(invoice_id=pk).number)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=finalize, args=(pk,)) for pk in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [f"INV-2026-{n:06d}" for n in range(1, 11)]


def test_credit_notes_partial_then_the_rest_add_up_to_the_invoice():
    """Invoice: 33.33 + VAT 6.67 (6.666 rounded) = 40.00. Credit 10.00 + VAT 2.00, then the
    rest: 23.33 + the VAT left, 4.67: together 40.00 exactly."""
    invoice = invoice_finalize(invoice_id=drafted(customer(plan(fee="33.33"))).pk)
    assert (invoice.tax_total, invoice.total) == (D("6.67"), D("40"))
    first = credit_note_issue(invoice_id=invoice.pk, reason="Outage", amount=D("10"))
    assert (first.number, first.tax_total, first.total) == (
        f"{invoice.number}-CN1", D("2"), D("12"),
    )  # fmt: skip
    with pytest.raises(InvoiceRefused, match="At most 23.33"):
        credit_note_issue(invoice_id=invoice.pk, reason="Too much", amount=D("23.34"))
    rest = credit_note_issue(invoice_id=invoice.pk, reason="Cancelled")
    assert (rest.number, rest.taxable_base, rest.tax_total) == (
        f"{invoice.number}-CN2", D("23.33"), D("4.67"),
    )  # fmt: skip
    assert first.total + rest.total == invoice.total
    assert rest.status == "finalized" and rest.lines.get().description.endswith("Cancelled")
    with pytest.raises(InvoiceRefused, match="wholly credited"):
        credit_note_issue(invoice_id=invoice.pk, reason="Again")
    with pytest.raises(InvoiceRefused, match="has credit notes"):
        invoice_void(invoice_id=invoice.pk, reason="x")


@pytest.mark.parametrize("amount", [D("0"), D("-1"), D("1.001")])
def test_a_credit_note_of_a_bad_amount_is_refused(amount):
    invoice = invoice_finalize(invoice_id=drafted(customer(plan(fee="5"))).pk)
    with pytest.raises(InvoiceRefused):
        credit_note_issue(invoice_id=invoice.pk, reason="x", amount=amount)
    assert not Invoice.objects.filter(kind="credit_note").exists()


def test_a_draft_cannot_be_credited_voided_or_paid():
    draft = drafted(customer(plan(fee="5")))
    for action in (
        lambda: credit_note_issue(invoice_id=draft.pk, reason="x"),
        lambda: invoice_void(invoice_id=draft.pk, reason="x"),
        lambda: invoice_payment_record(invoice_id=draft.pk, paid_on=date(2026, 12, 2),
                                       amount=D("6")),
    ):  # fmt: skip
        with pytest.raises(InvoiceRefused):
            action()


def test_payment_status_pending_then_overdue_then_paid_and_a_paid_invoice_cannot_be_voided():
    invoice = invoice_finalize(invoice_id=drafted(customer(plan(fee="5"))).pk)
    assert (invoice.payment_status, invoice.display_status) == ("pending", "finalized")
    with time_machine.travel("2027-01-02 00:00:00+00:00", tick=False):
        assert Invoice.objects.get().payment_status == "overdue"  # due 2027-01-01
        paid = invoice_payment_record(invoice_id=invoice.pk, paid_on=date(2027, 1, 2),
                                      amount=D("6"))  # fmt: skip
        assert (paid.payment_status, paid.display_status) == ("paid", "paid")
    with pytest.raises(InvoiceRefused, match="is paid"):
        invoice_void(invoice_id=invoice.pk, reason="x")


def test_billing_run_command_prints_json_and_fails_for_a_customer_it_cannot_compute(capsys):
    record("u-broken", cost="1")
    customer(plan(fee="10"), name="Fine")
    cost = [{"metric": "llm_cost", "unit": "1", "markup_percent": D(0)}]
    customer(plan(name="Cost", charges=cost), "u-broken", name="Broken")
    with pytest.raises(CommandError, match="1 customer invoice of 2026-11 could not be computed"):
        call_command("billing_run", "--period", "2026-11", "--json")
    payload = json.loads(capsys.readouterr().out)
    by_name = {row["customer"]: row for row in payload["invoices"]}
    assert by_name["Fine"]["total"] == "12.00" and by_name["Fine"]["outcome"] == "created"
    assert by_name["Broken"]["outcome"] == "error"
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "is not a month"),
        (["--period", "26-11"], "is not a month"),
        (["--period", "1999-12"], "outside the days"),
        (["--period", "2026-11\x00"], "is not a month"),
        (["--customer", "abc"], "is not a customer id"),
        (["--customer", "999999"], "No customer has the id 999999"),
        (["--customer", "99999999999999999999999"], "is not a customer id"),
    ],
)
def test_billing_run_command_refuses_bad_arguments_and_writes_nothing(args, message):
    customer(plan(fee="10"))
    with pytest.raises(CommandError, match=message):
        call_command("billing_run", *args)
    assert not Invoice.objects.exists()


def test_billing_run_defaults_to_the_month_before_and_reruns_say_unchanged(capsys):
    customer(plan(fee="10"), name="Fine")
    call_command("billing_run")
    call_command("billing_run", "--period", "2026-11")
    out = capsys.readouterr().out
    assert "CREATED Fine 12.00 EUR" in out and "UNCHANGED Fine 12.00 EUR" in out
    assert Invoice.objects.get().period_start == NOVEMBER


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_write_one_draft_per_customer():
    for i in range(30):
        customer(plan(name=f"P{i}", fee="5"), name=f"C{i}")
    barrier, outcomes, errors = threading.Barrier(2), [], []

    def run():
        try:
            barrier.wait()
            outcomes.append(billing_run(month=NOVEMBER))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Invoice.objects.count() == 30 and InvoiceLine.objects.count() == 30
    both = sorted(o.outcome for run_outcomes in outcomes for o in run_outcomes)
    assert both == ["created"] * 30 + ["unchanged"] * 30


def test_a_month_not_started_is_refused_and_the_month_in_progress_is_a_marked_preview(capsys):
    customer(plan(fee="10"))
    with pytest.raises(CommandError, match="2027-01: 2027-01 has not started"):
        call_command("billing_run", "--period", "2027-01")
    assert not Invoice.objects.exists()
    call_command("billing_run", "--period", "2026-12")
    assert Invoice.objects.get().warnings == [
        "December 2026 is not over: the usage is counted until now."
    ]


def test_usage_is_read_in_chunks_of_users_with_the_same_result(monkeypatch):
    for n in range(5):
        record(f"u{n}", input_tokens=1_000_000 * (n + 1))
    who = customer(plan(charges=TOKENS), *(f"u{n}" for n in range(5)))
    billing_run(month=NOVEMBER)
    whole = Invoice.objects.get(customer=who).total
    monkeypatch.setattr("usage.user_usage.USERS_PER_STATEMENT", 2)
    record("u4", input_tokens=1)  # a change, so that the draft is computed again
    billing_run(month=NOVEMBER)
    assert whole == D("36.00")  # 15M tokens at 2 per 1M, + 20 % VAT
    assert Invoice.objects.get(customer=who).lines.get().quantity == D("15.000001")
