"""An invoice as documents: its JSON (the API), PDF (WeasyPrint, from a Django template; text
extractable), XLSX (real numbers in cells), and the CSV of a period's invoices or their lines.

Amounts are printed to the currency's minor unit (they are stored so); quantities and unit
prices exactly as computed, without trailing zeros. JSON and CSV carry decimal strings, never
floats.
"""

import csv
import io
from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from openpyxl import Workbook
from openpyxl.styles import Font

from billing.models import DocumentKind, Invoice, LineKind
from costledger.cells import csv_text, xlsx_text
from costledger.money import minor_unit, round_money

ADJUSTMENTS = (LineKind.DISCOUNT, LineKind.SLA_CREDIT, LineKind.MINIMUM)


def money(amount: Decimal | None, currency: str) -> str | None:
    """A decimal string to the currency's minor unit: "1234.50"."""
    return None if amount is None else f"{round_money(amount, currency):f}"


def exact(value: Decimal | None) -> str | None:
    """A quantity or unit price as computed, without trailing zeros: "12.345678"."""
    if value is None:
        return None
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def invoice_json(invoice: Invoice) -> dict:
    cur = invoice.currency
    lines = list(invoice.lines.all())
    return {
        "number": invoice.number,
        "kind": invoice.kind,
        "status": invoice.display_status,
        "document_status": invoice.status,
        "payment_status": invoice.payment_status,
        "customer": {
            "id": invoice.customer_id,
            "name": invoice.customer_name,
            "email": invoice.customer_email,
            "address": invoice.customer_address,
            "country": invoice.customer_country,
            "vat_number": invoice.customer_vat_number,
        },
        "period": {"start": _iso(invoice.period_start), "end": _iso(invoice.period_end)},
        "currency": cur,
        "issue_date": _iso(invoice.issue_date),
        "due_date": _iso(invoice.due_date),
        "lines": [
            {
                "kind": line.kind,
                "description": line.description,
                "quantity": exact(line.quantity),
                "unit": line.unit,
                "unit_price": exact(line.unit_price),
                "amount": money(line.amount, cur),
                "detail": line.detail,
            }
            for line in lines
            if line.kind not in ADJUSTMENTS
        ],
        "discounts": [
            {"description": line.description, "amount": money(-line.amount, cur)}
            for line in lines
            if line.kind == LineKind.DISCOUNT
        ],
        "sla_credit": next(
            (
                {
                    "description": line.description,
                    "amount": money(-line.amount, cur),
                    "detail": line.detail,
                }
                for line in lines
                if line.kind == LineKind.SLA_CREDIT
            ),
            None,
        ),  # fmt: skip
        "minimum_true_up": money(invoice.minimum_true_up, cur),
        "subtotal": money(invoice.subtotal, cur),
        "discount_total": money(invoice.discount_total, cur),
        "taxable_base": money(invoice.taxable_base, cur),
        "taxes": [
            {
                "name": tax.name,
                "rate": exact(tax.rate),
                "base": money(tax.base, cur),
                "amount": money(tax.amount, cur),
            }
            for tax in invoice.taxes.all()
        ],  # fmt: skip
        "tax_total": money(invoice.tax_total, cur),
        "total": money(invoice.total, cur),
        "tax_mention": invoice.tax_mention,
        "paid_on": _iso(invoice.paid_on),
        "paid_amount": money(invoice.paid_amount, cur),
        "credited_invoice": invoice.credited_invoice.number if invoice.credited_invoice else None,
        "credit_notes": [note.number for note in invoice.credit_notes.order_by("pk")],
        "reason": invoice.reason,
        "warnings": invoice.warnings,
    }


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def invoice_filename(invoice: Invoice, extension: str) -> str:
    name = invoice.number or f"draft-{invoice.customer_id}-{invoice.period_start:%Y-%m}"
    return f"{name}.{extension}"


def document_context(invoice: Invoice) -> dict:
    cur = invoice.currency
    lines = list(invoice.lines.all())

    def shown(amount):
        return f"{round_money(amount, cur):,}"

    return {
        "invoice": invoice,
        "title": "Credit note" if invoice.kind == DocumentKind.CREDIT_NOTE else "Invoice",
        "seller": {
            "name": settings.BILLING_SELLER_NAME,
            "address": settings.BILLING_SELLER_ADDRESS,
            "vat_number": settings.BILLING_SELLER_VAT_NUMBER,
        },
        "lines": [
            {
                "description": line.description,
                "quantity": _grouped(exact(line.quantity)),
                "unit": line.unit,
                "unit_price": exact(line.unit_price) or "",
                "amount": shown(line.amount),
            }
            for line in lines
            if line.kind not in ADJUSTMENTS
        ],
        "adjustments": [
            {"description": line.description, "amount": shown(line.amount)}
            for line in lines
            if line.kind in ADJUSTMENTS
        ],
        "subtotal": shown(invoice.subtotal),
        "taxable_base": shown(invoice.taxable_base),
        "taxes": [
            {"label": tax_label(tax), "base": shown(tax.base), "amount": shown(tax.amount)}
            for tax in invoice.taxes.all()
        ],
        "total": shown(invoice.total),
        "currency": cur,
    }


def tax_label(tax) -> str:
    """The tax's name, with its rate unless the name says it already ("TVA 20 %")."""
    rate = exact(tax.rate * 100)
    said = f"{rate} %" in tax.name or f"{rate}%" in tax.name
    return tax.name if said else f"{tax.name} {rate} %"


def _grouped(number: str | None) -> str:
    if number is None:
        return ""
    whole, _, fraction = number.partition(".")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


def invoice_pdf(invoice: Invoice) -> bytes:
    from weasyprint import HTML  # loads Pango: only when a PDF is asked for

    html = render_to_string("billing/invoice_pdf.html", document_context(invoice))
    return HTML(string=html).write_pdf()


def invoice_xlsx(invoice: Invoice) -> bytes:
    """The invoice on one sheet: who, when, each line with its quantity, unit price and amount
    as numbers, the adjustments, taxes and total."""
    cur = invoice.currency
    number_format = "#,##0" + ("." + "0" * minor_unit(cur) if minor_unit(cur) else "")
    book = Workbook()
    sheet = book.active
    sheet.title = (invoice.number or "Draft")[:31]
    bold = Font(bold=True)
    title = "Credit note" if invoice.kind == DocumentKind.CREDIT_NOTE else "Invoice"
    header = [
        (title, invoice.number or "DRAFT (not a valid invoice)"),
        ("Status", invoice.display_status),
        ("Customer", invoice.customer_name),
        ("Country", invoice.customer_country),
        ("VAT number", invoice.customer_vat_number),
        ("Period", f"{invoice.period_start} to {invoice.period_end}"),
        ("Issue date", invoice.issue_date),
        ("Due date", invoice.due_date),
        ("Currency", cur),
    ]
    for label, value in header:
        sheet.append([label, xlsx_text(value) if isinstance(value, str) else value])
        sheet.cell(sheet.max_row, 1).font = bold
        if hasattr(value, "isoformat"):
            sheet.cell(sheet.max_row, 2).number_format = "yyyy-mm-dd"
    sheet.append([])
    sheet.append(["Description", "Quantity", "Unit", "Unit price", f"Amount ({cur})"])
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for line in invoice.lines.all():
        sheet.append([xlsx_text(line.description), line.quantity, line.unit, line.unit_price,
                      round_money(line.amount, cur)])  # fmt: skip
        sheet.cell(sheet.max_row, 5).number_format = number_format
    sheet.append([])
    totals = [("Subtotal", invoice.subtotal), ("Discounts", -invoice.discount_total),
              ("SLA credit", -invoice.sla_credit), ("Minimum true-up", invoice.minimum_true_up),
              ("Taxable base", invoice.taxable_base)]  # fmt: skip
    totals += [(f"{tax.name} on {round_money(tax.base, cur):,}", tax.amount)
               for tax in invoice.taxes.all()]  # fmt: skip
    totals.append(("Total", invoice.total))
    for label, amount in totals:
        sheet.append([xlsx_text(label), None, None, None, round_money(amount, cur)])
        sheet.cell(sheet.max_row, 5).number_format = number_format
    sheet.cell(sheet.max_row, 1).font = sheet.cell(sheet.max_row, 5).font = bold
    if invoice.tax_mention:
        sheet.append([invoice.tax_mention])
    sheet.column_dimensions["A"].width = 60
    for column in "BCDE":
        sheet.column_dimensions[column].width = 18
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


INVOICE_COLUMNS = [
    "number", "kind", "status", "payment_status", "customer_id", "customer", "country",
    "vat_number", "period_start", "period_end", "issue_date", "due_date", "currency",
    "subtotal", "discount_total", "sla_credit", "minimum_true_up", "taxable_base", "tax_total",
    "total", "tax_rule", "credited_invoice", "paid_on", "paid_amount",
]  # fmt: skip
LINE_COLUMNS = [
    "number", "status", "customer", "period_start", "currency", "position", "kind",
    "description", "quantity", "unit", "unit_price", "amount",
]  # fmt: skip


def invoices_csv(invoices, *, level: str) -> str:
    """The invoices (level "invoice") or their lines (level "line"), one row each."""
    out = io.StringIO()
    writer = csv.writer(out)
    if level == "line":
        writer.writerow(LINE_COLUMNS)
        for invoice in invoices:
            for line in invoice.lines.all():
                writer.writerow([
                    invoice.number or "", invoice.display_status, invoice.customer_name,
                    invoice.period_start, invoice.currency, line.position, line.kind,
                    csv_text(line.description), exact(line.quantity) or "", line.unit,
                    exact(line.unit_price) or "", money(line.amount, invoice.currency),
                ])  # fmt: skip
        return out.getvalue()
    writer.writerow(INVOICE_COLUMNS)
    for i in invoices:
        cur = i.currency
        writer.writerow([
            i.number or "", i.kind, i.display_status, i.payment_status or "", i.customer_id,
            csv_text(i.customer_name), i.customer_country, i.customer_vat_number, i.period_start,
            i.period_end, i.issue_date or "", i.due_date or "", cur, money(i.subtotal, cur),
            money(i.discount_total, cur), money(i.sla_credit, cur),
            money(i.minimum_true_up, cur), money(i.taxable_base, cur), money(i.tax_total, cur),
            money(i.total, cur), i.tax_rule,
            i.credited_invoice.number if i.credited_invoice_id else "", i.paid_on or "",
            money(i.paid_amount, cur) or "",
        ])  # fmt: skip
    return out.getvalue()
