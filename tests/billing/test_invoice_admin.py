"""Customer invoices through the real admin views, API and documents: Finance runs a month,
finalizes, sends, records payments, credits and voids; Viewer looks and downloads; every bad
input gets a field error and changes nothing."""

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from billing.issuing import billing_run, invoice_finalize
from billing.models import Discount, Invoice, SlaCreditTier, SlaUptime
from tests.billing.conftest import NOVEMBER, customer, plan, record

pytestmark = pytest.mark.django_db
D = Decimal
RUN = "/admin/billing/invoice/run/"


def act(invoice, action) -> str:
    return reverse(f"admin:billing_invoice_{action}", args=[invoice.pk])


@pytest.fixture
def acme():
    """Acme SAS (France, EUR): 49.00 a month, 3,000,000 input tokens at 2.50 per 1M = 7.50,
    a 10 % discount: 56.50 - 5.65 = 50.85, VAT 20 % 10.17, total 61.02."""
    record("acme-1", input_tokens=2_000_000)
    record("acme-2", input_tokens=1_000_000)
    pro = plan(fee="49", charges=[{"metric": "input_tokens", "unit": "1m",
                                   "unit_price": D("2.5")}])  # fmt: skip
    who = customer(pro, "acme-1", "acme-2", name="Acme SAS")
    Discount.objects.create(customer=who, description="Launch", kind="percent", value=D(10),
                            duration="forever", starts_on=NOVEMBER)  # fmt: skip
    return who


def issued(who) -> Invoice:
    billing_run(month=NOVEMBER, customer_ids=[who.pk])
    return invoice_finalize(invoice_id=Invoice.objects.get(customer=who).pk)


def test_finance_runs_the_month_from_the_admin_and_reads_the_draft(finance_client, acme):
    response = finance_client.post(RUN, {"month": "2026-11"})
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.total) == ("draft", D("61.02"))
    page = finance_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    text = page.content.decode()
    for shown in ("Acme SAS", "Launch (10 %)", "50.85", "TVA 20 % on 50.85", "10.17", "61.02",
                  "Finalize", "(draft: numbered when finalized)"):  # fmt: skip
        assert shown in text


@pytest.mark.parametrize("month", ["2026-13", "11-2026", "", "1999-12", "2026-11\x00", "9" * 50])
def test_a_bad_month_is_a_field_error_and_runs_nothing(finance_client, acme, month):
    response = finance_client.post(RUN, {"month": month})
    assert response.status_code == 200
    assert "month" in response.context["form"].errors
    assert not Invoice.objects.exists()


def test_finalize_send_and_record_the_payment(finance_client, acme):
    billing_run(month=NOVEMBER)
    draft = Invoice.objects.get()
    finance_client.post(act(draft, "finalize"))
    invoice = Invoice.objects.get()
    assert invoice.number == "INV-2026-000001" and invoice.due_date == date(2027, 1, 1)
    finance_client.post(act(invoice, "send"))
    (email,) = mail.outbox
    assert email.to == ["billing@acme.example"] and "INV-2026-000001" in email.subject
    name, pdf, kind = email.attachments[0]
    assert (name, kind) == ("INV-2026-000001.pdf", "application/pdf")
    assert "61.02" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    invoice.refresh_from_db()
    assert invoice.sent_at is not None and invoice.display_status == "sent"
    response = finance_client.post(act(invoice, "payment"), {"paid_on": "2026-12-02",
                                                             "amount": "61.02"})  # fmt: skip
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.paid_on, invoice.paid_amount, invoice.display_status) == (
        date(2026, 12, 2), D("61.02"), "paid",
    )  # fmt: skip


def test_a_mail_server_that_refuses_marks_nothing_sent(finance_client, acme, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    invoice = issued(acme)
    response = finance_client.post(act(invoice, "send"), follow=True)
    assert "the mail server failed" in response.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).sent_at is None


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"paid_on": "2027-01-01", "amount": "61.02"}, "paid_on"),  # tomorrow
        ({"paid_on": "2026-11-30", "amount": "61.02"}, "paid_on"),  # before it was issued
        ({"paid_on": "0001-01-01", "amount": "61.02"}, "paid_on"),
        ({"paid_on": "2026-12-02", "amount": "61.025"}, "amount"),
        ({"paid_on": "2026-12-02", "amount": "-1"}, "amount"),
        ({"paid_on": "2026-12-02", "amount": "1e400"}, "amount"),
        ({"paid_on": "2026-12-02", "amount": "NaN"}, "amount"),
        ({"paid_on": "2026-12-02\x00", "amount": "61.02"}, "paid_on"),
    ],
)
def test_a_bad_payment_is_a_field_error_and_changes_nothing(finance_client, acme, post, field):
    invoice = issued(acme)
    response = finance_client.post(act(invoice, "payment"), post)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert Invoice.objects.get(pk=invoice.pk).paid_on is None


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"reason": "", "amount": "10"}, "reason"),
        ({"reason": "Outage\x00", "amount": "10"}, "reason"),
        ({"reason": "Outage", "amount": "50.86"}, "amount"),  # more than the 50.85 invoiced
        ({"reason": "Outage", "amount": "0.001"}, "amount"),
        ({"reason": "Outage", "amount": "99999999999999999999"}, "amount"),
    ],
)
def test_a_bad_credit_note_is_a_field_error_and_issues_nothing(finance_client, acme, post, field):
    invoice = issued(acme)
    response = finance_client.post(act(invoice, "credit_note"), post)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert not Invoice.objects.filter(kind="credit_note").exists()


def test_a_credit_note_and_a_void_from_the_admin(finance_client, acme):
    invoice = issued(acme)
    response = finance_client.post(act(invoice, "credit_note"), {"reason": "Outage",
                                                                 "amount": "10"})  # fmt: skip
    note = Invoice.objects.get(kind="credit_note")
    assert response.url == reverse("admin:billing_invoice_change", args=[note.pk])
    assert (note.number, note.total) == ("INV-2026-000001-CN1", D("12.00"))
    # With a credit note, void is refused; the page offers it no more.
    page = finance_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert act(invoice, "void") not in page.content.decode()
    other = issued(customer(plan(name="Other", fee="5"), name="Other"))
    assert finance_client.post(act(other, "void"), {"reason": ""}).status_code == 200
    finance_client.post(act(other, "void"), {"reason": "Sent to the wrong company"})
    assert Invoice.objects.get(pk=other.pk).status == "void"


def test_viewer_looks_and_downloads_but_may_not_act(client, viewer_user, acme):
    invoice = issued(acme)
    client.force_login(viewer_user)
    assert client.get(reverse("admin:billing_invoice_changelist")).status_code == 200
    page = client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert page.status_code == 200 and "Record the payment" not in page.content.decode()
    assert client.get(reverse("admin:billing_invoice_pdf", args=[invoice.pk])).status_code == 200
    assert client.get(reverse("admin:billing_invoice_xlsx", args=[invoice.pk])).status_code == 200
    for action, post in [("finalize", {}), ("send", {}), ("void", {"reason": "x"}),
                         ("credit_note", {"reason": "x"}),
                         ("payment", {"paid_on": "2026-12-02", "amount": "1"})]:  # fmt: skip
        assert client.post(act(invoice, action), post).status_code == 403
    assert client.post(RUN, {"month": "2026-11"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.paid_on is None and invoice.status == "finalized" and not mail.outbox


def test_the_pdf_is_text_with_every_figure(admin_client, acme):
    invoice = issued(acme)
    response = admin_client.get(reverse("admin:billing_invoice_pdf", args=[invoice.pk]))
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    for shown in ("Invoice INV-2026-000001", "Acme SAS", "Period 2026-11-01 to 2026-11-30",
                  "Due date 2027-01-01", "Input tokens 3 1M tokens 2.5 7.50",
                  "Launch (10 %) -5.65", "TVA 20 % on 50.85 10.17", "Total EUR 61.02"):  # fmt: skip
        assert shown in text, shown


def test_a_reverse_charge_pdf_prints_the_legal_mention(admin_client):
    who = customer(plan(fee="100"), country="DE", vat_number="DE136695976", name="Beta GmbH")
    invoice = issued(who)
    response = admin_client.get(reverse("admin:billing_invoice_pdf", args=[invoice.pk]))
    text = " ".join(PdfReader(io.BytesIO(response.content)).pages[0].extract_text().split())
    assert "Reverse charge: VAT to be accounted for by the recipient" in text
    assert "VAT number: DE136695976" in text and "Total EUR 100.00" in text


def test_the_xlsx_holds_numbers(admin_client, acme):
    invoice = issued(acme)
    response = admin_client.get(reverse("admin:billing_invoice_xlsx", args=[invoice.pk]))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = {row[0]: row for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert rows["Input tokens"][1:5] == (3, "1M tokens", 2.5, 7.5)
    assert rows["Total"][4] == 61.02 and rows["Invoice"][1] == "INV-2026-000001"


def test_the_csv_of_a_month_per_invoice_and_per_line(admin_client, acme):
    invoice = issued(acme)
    hostile = customer(plan(name="Evil", fee="1"), name='=HYPERLINK("http://x")')
    billing_run(month=NOVEMBER, customer_ids=[hostile.pk])
    url = reverse("admin:billing_invoice_csv")
    rows = list(csv.DictReader(io.StringIO(
        admin_client.get(url, {"month": "2026-11", "level": "invoice"}).content.decode("utf-8-sig")
    )))  # fmt: skip
    by_number = {row["number"]: row for row in rows}
    assert by_number[invoice.number]["total"] == "61.02"
    assert by_number[invoice.number]["discount_total"] == "5.65"
    assert by_number[""]["customer"].startswith("'=")  # the draft: no formula runs
    lines = list(csv.DictReader(io.StringIO(
        admin_client.get(url, {"month": "2026-11", "level": "line"}).content.decode("utf-8-sig")
    )))  # fmt: skip
    assert [(r["kind"], r["amount"]) for r in lines if r["number"] == invoice.number] == [
        ("fee", "49.00"), ("usage", "7.50"), ("discount", "-5.65"),
    ]  # fmt: skip
    assert admin_client.get(url, {"month": "2026-13", "level": "line"}).status_code == 302
    assert admin_client.get(url, {"month": "2026-11", "level": "x"}).status_code == 302
    assert admin_client.get(url, {"month": "2026-11\x00", "level": "line"}).status_code == 400


def test_the_json_api_by_number(client, settings, acme, admin_client):
    settings.SYNC_API_TOKEN = "t0ken-for-tests"
    pro = acme.plan
    pro.sla_target = D("99.9")
    pro.save()
    SlaCreditTier.objects.create(plan=pro, below=D("99.9"), credit=D(10))
    SlaUptime.objects.create(month=NOVEMBER, uptime=D("99.5"), incident_reference="INC-3")
    invoice = issued(acme)
    url = f"/api/v1/billing/invoices/{invoice.number}"
    assert client.get(url).status_code == 401
    body = client.get(url, headers={"Authorization": "Bearer t0ken-for-tests"}).json()
    assert body == admin_client.get(url).json()
    assert (body["number"], body["status"], body["currency"]) == (
        invoice.number,
        "finalized",
        "EUR",
    )
    assert body["period"] == {"start": "2026-11-01", "end": "2026-11-30"}
    assert [(line["description"], line["quantity"], line["unit"], line["amount"])
            for line in body["lines"]] == [
        ("Pro: monthly fee", "1", "month", "49.00"), ("Input tokens", "3", "1M tokens", "7.50"),
    ]  # fmt: skip
    assert body["discounts"] == [{"description": "Launch (10 %)", "amount": "5.65"}]
    # 10 % of 50.85 = 5.085 -> 5.09; base 45.76; VAT 9.152 -> 9.15; total 54.91
    assert body["sla_credit"]["amount"] == "5.09"
    assert body["taxes"] == [{"name": "TVA 20 %", "rate": "0.2", "base": "45.76",
                              "amount": "9.15"}]  # fmt: skip
    assert (body["subtotal"], body["total"], body["due_date"]) == ("56.50", "54.91", "2027-01-01")


@pytest.mark.parametrize("number", ["INV-2026-999999", "x" * 41, "%ED%A0%80", "%E2%80%8F", "draft"])
def test_the_json_api_answers_404_for_what_is_no_invoice(admin_client, acme, number):
    billing_run(month=NOVEMBER)  # a draft: it has no number to be found by
    response = admin_client.get(f"/api/v1/billing/invoices/{number}")
    assert response.status_code == 404 and "number" in response.json()["errors"]


def test_the_json_api_refuses_a_nul_in_the_number(admin_client):
    response = admin_client.get("/api/v1/billing/invoices/INV%00")
    assert response.status_code == 400 and "path" in response.json()["errors"]


def test_a_month_not_started_is_a_field_error(finance_client, acme):
    response = finance_client.post(RUN, {"month": "2027-01"})
    assert "has not started" in response.context["form"].errors["month"][0]
    assert not Invoice.objects.exists()
