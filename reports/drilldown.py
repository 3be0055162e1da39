"""The drill-down of a Costs by provider cell: the cost entries that make it, which count and
which are superseded (and by what), their total equal to the cell, each manual row's invoice and
its attachment linked; the same table as CSV and XLSX. And the overlapping invoices the cells
are marked with.

The figures come from `costledger.selectors.cost_entries_explained`; the invoices are looked up
here (the ledger core does not know the billing app), through the id each manual row keeps in
its tags.

`?provider=<slug>&start=YYYY-MM-DD&end=YYYY-MM-DD` (end included), or `month=YYYY-MM` for a whole
month; `back=` carries the Costs by provider page's period, for the link back.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from billing.models import InvoiceKind, ProviderInvoice
from costledger.days import add_months, month_start
from costledger.models import CostEntry, Source
from costledger.providers import PROVIDERS, Category, provider_name
from costledger.query_params import QueryParams
from costledger.selectors import (
    FEED_RANK,
    CellExplanation,
    EntryPart,
    ExplainedEntry,
    cost_entries_explained,
)
from reports.exports import csv_response, xlsx_response
from reports.periods import MAX_CUSTOM_DAYS
from reports.tables import Table

MONTH = re.compile(r"[0-9]{4}-[0-9]{2}\Z")
BACK_PARAMETERS = ("period", "start", "end", "compare")
STATUS_LABELS = {
    "counts": "Counts",
    "partly": "Partly superseded",
    "superseded": "Superseded",
}
FEED_LABELS = {
    Source.MANUAL: "the entered invoice",
    Source.API: "what the provider billed (API)",
    Source.USAGE: "the cost computed from usage events",
    f"{Source.USAGE}:prometheus": "the cost computed from the Prometheus feed",
    Source.ESTIMATE: "the estimate",
}
MOST_NAMED = 3  # services named in a "superseded by" before "and N more"


@dataclass(frozen=True)
class CellQuery:
    provider: str
    start: date
    end: date  # included


def cell_query_read(params: QueryParams) -> CellQuery | None:
    """The provider and days the query asks for; each problem goes to `params.errors`."""
    provider = _provider_read(params)
    start, end = _days_read(params)
    if params.errors or provider is None or start is None or end is None:
        return None
    return CellQuery(provider, start, end)


def _provider_read(params: QueryParams) -> str | None:
    names = params.names("provider")
    if "provider" in params.errors:
        return None
    if len(names) != 1:
        params.errors["provider"] = "Name one provider, e.g. provider=supabase."
        return None
    provider = names[0]
    if provider not in PROVIDERS and not CostEntry.objects.filter(provider=provider).exists():
        params.errors["provider"] = f"No provider {provider!r} is known to the ledger."
        return None
    return provider


def _days_read(params: QueryParams) -> tuple[date | None, date | None]:
    months = params.params.getlist("month")
    if len(months) > 1:
        params.errors["month"] = f"month is given {len(months)} times; give it once."
        return None, None
    month = months[0] if months else None
    if month is not None:
        if {"start", "end"} & set(params.params):
            params.errors["month"] = "Give either month or start and end, not both."
            return None, None
        first = _month_read(month)
        if first is None:
            shown = month[:20].encode("unicode_escape").decode()
            params.errors["month"] = f"'{shown}' is not a month; use YYYY-MM, e.g. 2026-10."
            return None, None
        return first, add_months(first, 1) - timedelta(days=1)
    start, end = params.date("start"), params.date("end")
    for name, value in (("start", start), ("end", end)):
        if value is None and name not in params.errors:
            params.errors[name] = f"{name} is missing: give start and end (YYYY-MM-DD) or month."
    if start and end and end < start:
        params.errors["end"] = f"end ({end}) is before start ({start})."
    elif start and end and (end - start).days + 1 > MAX_CUSTOM_DAYS:
        params.errors["end"] = (
            f"The range {start} to {end} is {(end - start).days + 1} days; at most "
            f"{MAX_CUSTOM_DAYS} (three years) may be asked at once."
        )
    return start, end


def _month_read(value: str) -> date | None:
    if not MONTH.match(value):
        return None
    try:
        first = date.fromisoformat(f"{value}-01")
    except ValueError:
        return None
    return first if date(2000, 1, 1) <= first <= date(2999, 12, 1) else None


def cost_cell_url(*, provider: str, start: date, end: date, back: str = "") -> str:
    """The drill-down of `provider` over [start, end] (end included); `back` is the query of
    the Costs by provider page to return to."""
    query = {"provider": provider, "start": start.isoformat(), "end": end.isoformat()}
    if back:
        query["back"] = back
    return f"{reverse('admin:cost_cell')}?{urlencode(query)}"


def _back_url(raw: str | None) -> str:
    """The Costs by provider page, with the period it was showing: only the period parameters
    are kept, re-encoded, so the link cannot lead anywhere else."""
    url = reverse("admin:costs_by_provider")
    if not raw or len(raw) > 300:
        return url
    asked = QueryDict(raw)
    kept = {
        name: asked[name]
        for name in BACK_PARAMETERS
        if name in asked and re.fullmatch(r"[A-Za-z0-9_-]{1,20}", asked[name])
    }
    return f"{url}?{urlencode(kept)}" if kept else url


# --- the rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLink:
    number: str
    url: str | None  # its admin page, for who may view invoices
    attachment_url: str | None


@dataclass
class CellRow:
    entry_id: int
    entry_url: str
    status: str
    source: str
    service: str
    category: str
    charged_from: date
    charged_to: date  # included
    billed_cost: Decimal
    currency: str
    counted: Decimal  # in the reporting currency
    unconverted: Decimal  # counted but without a rate, in `currency`
    counted_days: str
    superseded: list[str]
    invoice: InvoiceLink | None


def cost_cell_rows(explanation: CellExplanation, *, user) -> list[CellRow]:
    entries = {explained.entry["id"]: explained.entry for explained in explanation.entries}
    invoices = _invoices_of(explanation, user=user)
    return [
        CellRow(
            entry_id=entry["id"],
            entry_url=reverse("admin:costledger_costentry_change", args=[entry["id"]]),
            status=STATUS_LABELS[explained.status],
            source=Source(entry["source"]).label,
            service=entry["service"],
            category=_category_label(entry["category"]),
            charged_from=entry["charge_period_start"],
            charged_to=entry["charge_period_end"] - timedelta(days=1),
            billed_cost=entry["billed_cost"],
            currency=entry["currency"],
            counted=explained.counted,
            unconverted=explained.unconverted,
            counted_days=", ".join(_days(first, last) for first, last in _merged(explained)),
            superseded=_superseded_texts(explained, entries),
            invoice=invoices.get(entry["id"]),
        )
        for explained in explanation.entries
        for entry in [explained.entry]
    ]


def _category_label(value: str) -> str:
    return dict(Category.choices).get(value, value)


def _days(first: date, last: date) -> str:
    return f"{first}" if first == last else f"{first} to {last}"


def _merged(explained: ExplainedEntry) -> list[tuple[date, date]]:
    """The days it counts, days with and without a rate joined: one range per run of days."""
    runs: list[tuple[date, date]] = []
    for part in explained.counting:
        if runs and part.first_day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], part.last_day)
        else:
            runs.append((part.first_day, part.last_day))
    return runs


def _superseded_texts(explained: ExplainedEntry, entries: dict[int, dict]) -> list[str]:
    """ "superseded by the entered invoice SUPA-2026-10 on 2026-10-01 to 2026-10-31", one per
    run of days superseded by the same rows."""
    texts: list[tuple[str, date, date]] = []
    for part in explained.superseded:
        by = _superseded_by(part, entries)
        if texts and texts[-1][0] == by and part.first_day == texts[-1][2] + timedelta(days=1):
            texts[-1] = (by, texts[-1][1], part.last_day)
        else:
            texts.append((by, part.first_day, part.last_day))
    return [f"superseded by {by} on {_days(first, last)}" for by, first, last in texts]


def _superseded_by(part: EntryPart, entries: dict[int, dict]) -> str:
    label = FEED_LABELS.get(part.superseded_by, part.superseded_by)
    winners = [entries[i] for i in part.superseded_by_entries if i in entries]
    if part.superseded_by == Source.MANUAL:
        numbers = sorted({w["reference"] for w in winners if w["reference"]})
        return f"{label}{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}".strip()
    services = sorted({w["service"] for w in winners})
    more = len(services) - MOST_NAMED
    named = ", ".join(services[:MOST_NAMED]) + (f" and {more} more" if more > 0 else "")
    return f"{label}: {named}" if named else label


def _invoices_of(explanation: CellExplanation, *, user) -> dict[int, InvoiceLink]:
    """The invoice of each manual row, by the row's id: found by the invoice id the row keeps
    in its tags (billing/services.py writes it), else by its number."""
    manual = [e.entry for e in explanation.entries if e.entry["source"] == Source.MANUAL]
    ids = {_invoice_id(entry) for entry in manual} - {None}
    numbers = {entry["reference"] for entry in manual}
    invoices = ProviderInvoice.objects.filter(
        Q(pk__in=ids) | Q(invoice_number__in=numbers), provider=explanation.provider
    )
    by_id = {invoice.pk: invoice for invoice in invoices}
    by_number = {invoice.invoice_number: invoice for invoice in invoices}
    may_view = user.has_perm("billing.view_providerinvoice")
    links = {}
    for entry in manual:
        invoice = by_id.get(_invoice_id(entry)) or by_number.get(entry["reference"])
        if invoice is None:
            links[entry["id"]] = InvoiceLink(entry["reference"], None, None)
            continue
        links[entry["id"]] = InvoiceLink(
            invoice.invoice_number,
            reverse("admin:billing_providerinvoice_change", args=[invoice.pk])
            if may_view
            else None,
            reverse("admin:billing_providerinvoice_attachment", args=[invoice.pk])
            if may_view and invoice.attachment
            else None,
        )
    return links


def _invoice_id(entry: dict) -> int | None:
    value = (entry["tags"] or {}).get("provider_invoice_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


TABLE_HEADERS = [
    "Status", "Source", "Service", "Category", "Charged from", "Charged to", "Billed cost",
    "Billed currency", "Counted", "Unconverted", "Days counted", "Superseded", "Invoice",
    "Cost entry id",
]  # fmt: skip


def cost_cell_table(explanation: CellExplanation, rows: list[CellRow]) -> Table:
    """The drill-down as a table (CSV, XLSX): a row per cost entry, then the total."""
    currency = explanation.currency
    last = explanation.end - timedelta(days=1)
    unconverted = "; ".join(f"{amount} {code}" for code, amount in explanation.unconverted.items())
    total = (
        "Total", None, None, None, explanation.start, last, None, None, explanation.total,
        unconverted or None, None, None, None, None,
    )  # fmt: skip
    return Table(
        name="cost_cell",
        title=f"{provider_name(explanation.provider)}: the cost entries of {explanation.start} "
        f"to {last}",
        headers=[h if h != "Counted" else f"Counted ({currency})" for h in TABLE_HEADERS],
        rows=[
            (
                row.status,
                row.source,
                row.service,
                row.category,
                row.charged_from,
                row.charged_to,
                row.billed_cost,
                row.currency,
                row.counted,
                row.unconverted or None,
                row.counted_days or None,
                "; ".join(row.superseded) or None,
                row.invoice.number if row.invoice else None,
                row.entry_id,
            )  # fmt: skip
            for row in rows
        ]
        + [total],
        note=f"Counted is in {currency}; the total equals the Costs by provider cell.",
    )


# --- the overlapping invoices ------------------------------------------------------------------


def invoice_overlaps(*, start: date, end: date) -> dict[tuple[str, date], list[str]]:
    """Per (provider, month): the invoices (not credit notes, which overlap the bill they
    correct by nature) whose periods share days within [start, end], each pair said once, e.g.
    "SUPA-10 (2026-10-01 to 2026-10-31) and SUPA-ADD (2026-10-15 to 2026-11-14) overlap on
    2026-10-15 to 2026-10-31"."""
    invoices = list(
        ProviderInvoice.objects.filter(
            kind=InvoiceKind.INVOICE, period_start__lte=end, period_end__gte=start
        ).order_by("provider", "period_start", "invoice_number")
    )
    found: dict[tuple[str, date], list[str]] = {}
    for i, first in enumerate(invoices):
        for second in invoices[i + 1 :]:
            if second.provider != first.provider or second.period_start > first.period_end:
                continue
            shared_from = max(second.period_start, start)
            shared_to = min(first.period_end, second.period_end, end)
            text = (
                f"{first.invoice_number} ({first.period_start} to {first.period_end}) and "
                f"{second.invoice_number} ({second.period_start} to {second.period_end}) "
                f"overlap on {_days(shared_from, shared_to)}"
            )
            month = month_start(shared_from)
            while month <= shared_to:
                found.setdefault((first.provider, month), []).append(text)
                month = add_months(month, 1)
    return found


# --- the views ---------------------------------------------------------------------------------


class _CellView(View):
    site = None

    def explanation(self, request) -> tuple[QueryParams, CellExplanation | None]:
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        params = QueryParams(request.GET)
        query = cell_query_read(params)
        if query is None:
            return params, None
        return params, cost_entries_explained(
            provider=query.provider, start=query.start, end=query.end + timedelta(days=1)
        )

    @staticmethod
    def filename(explanation: CellExplanation) -> str:
        last = explanation.end - timedelta(days=1)
        return f"cost_entries_{explanation.provider}_{explanation.start}_{last}"


class CostCell(_CellView):
    """The cost entries that make one provider's effective cost over a range."""

    def get(self, request):
        params, explanation = self.explanation(request)
        back = _back_url(request.GET.get("back"))
        context = {
            **self.site.each_context(request),
            "title": "Cost entries of a cell",
            "errors": list(params.errors.values()),
            "back_url": back,
        }
        if explanation is None:
            response = TemplateResponse(request, "admin/reports/cost_cell.html", context)
            response.status_code = 400
            return response
        last = explanation.end - timedelta(days=1)
        download = urlencode(
            {"provider": explanation.provider, "start": explanation.start, "end": last}
        )
        rows = cost_cell_rows(explanation, user=request.user)
        overlaps = invoice_overlaps(start=explanation.start, end=last)
        provider_overlaps = {
            text
            for (provider, _), texts in overlaps.items()
            if provider == explanation.provider
            for text in texts
        }
        context |= {
            "title": f"{provider_name(explanation.provider)}, {explanation.start} to {last}",
            "explanation": explanation,
            "last_day": last,
            "rows": rows,
            "statuses": [
                (label, count)
                for label in STATUS_LABELS.values()
                if (count := sum(row.status == label for row in rows))
            ],
            "overlaps": sorted(provider_overlaps),
            "csv_url": f"{reverse('admin:cost_cell_csv')}?{download}",
            "xlsx_url": f"{reverse('admin:cost_cell_xlsx')}?{download}",
            "feeds": sorted(FEED_LABELS.items(), key=lambda kv: -FEED_RANK[kv[0]]),
        }
        return TemplateResponse(request, "admin/reports/cost_cell.html", context)


class CostCellCsv(_CellView):
    def get(self, request):
        params, explanation = self.explanation(request)
        if explanation is None:
            return _refused(params)
        table = cost_cell_table(explanation, cost_cell_rows(explanation, user=request.user))
        return csv_response(table, filename=self.filename(explanation))


class CostCellXlsx(_CellView):
    def get(self, request):
        params, explanation = self.explanation(request)
        if explanation is None:
            return _refused(params)
        table = cost_cell_table(explanation, cost_cell_rows(explanation, user=request.user))
        return xlsx_response([table], filename=self.filename(explanation), title=table.title)


def _refused(params: QueryParams) -> HttpResponse:
    text = " ".join(f"{name}: {problem}" for name, problem in params.errors.items())
    return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
