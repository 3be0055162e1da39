"""The cost ledger as a FOCUS 1.2 CSV (FinOps Open Cost and Usage Specification), for FinOps
tools: the 21 columns FOCUS 1.2 makes mandatory and the recommended InvoiceId, in the spec's
(alphabetical) order, then ours, prefixed `x_` as the spec asks of custom columns.

Rows are what counts of the ledger over the report period (`costledger.selectors.
cost_ledger_counted`): a cost entry's days superseded by a more trusted source are not cost and
are left out (the entry itself stays in the ledger and in the drill-down), and each row covers
one entry's run of counted days within one calendar month, its billing period. So the
EffectiveCost of a provider's rows in the reporting currency adds up to Costs by provider for
the same days, and `x_EffectiveCostInReportingCurrency` does so for every currency.

What the ledger does not know is said, never made up: FOCUS nulls (empty fields) where the spec
allows them; ListCost and ContractedCost equal BilledCost, as the spec has it for a charge whose
unit prices are unknown; PricingQuantity is the entry's quantity for the row's days, or the
row's days ("Days") when the entry has none, since a charge is spread evenly over its days.
"""

import csv
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.views import View

from costledger.cells import formula_guarded
from costledger.days import add_months, month_start
from costledger.models import Source
from costledger.providers import Category, provider_name
from costledger.query_params import QueryParams
from costledger.selectors import LEDGER_QUANTUM, CountedLedger, EntryPart, cost_ledger_counted
from reports.exports import safe_filename
from reports.periods import period_read

FOCUS_VERSION = "1.2"
# FOCUS 1.2's mandatory columns (feature level "Mandatory"), and InvoiceId (recommended), in
# the alphabetical order the spec lists them in.
FOCUS_MANDATORY = [
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
]  # fmt: skip
FOCUS_COLUMNS = sorted([*FOCUS_MANDATORY, "InvoiceId"])
EXTENSION_COLUMNS = [
    "x_Source",  # manual (an entered invoice), api, usage or estimate
    "x_Reference",  # the invoice number, line item or feed the entry names
    "x_Category",  # the ledger's category: llm, infrastructure, payments, communications, other
    "x_CostEntryId",
    "x_EntryChargePeriodStart",  # the whole entry this row is a part of
    "x_EntryChargePeriodEnd",
    "x_EntryBilledCost",
    "x_ReportingCurrency",
    "x_EffectiveCostInReportingCurrency",  # empty when no exchange rate is known for the days
]
HEADER = [*FOCUS_COLUMNS, *EXTENSION_COLUMNS]

SERVICE_CATEGORIES = {
    Category.LLM: "AI and Machine Learning",
    Category.PAYMENTS: "Business Applications",
    Category.COMMUNICATIONS: "Mobile",  # SMS and voice
    Category.OTHER: "Other",
}
INFRASTRUCTURE_CATEGORIES = {"supabase": "Databases", "weaviate": "Databases"}
# A DigitalOcean service by the words of its name; the rest of it is Compute.
DIGITALOCEAN_WORDS = [
    ("database", "Databases"),
    ("spaces", "Storage"),
    ("volume", "Storage"),
    ("backup", "Storage"),
    ("snapshot", "Storage"),
    ("registry", "Developer Tools"),
    ("load balancer", "Networking"),
    ("bandwidth", "Networking"),
    ("monitoring", "Management and Governance"),
]
SOURCE_DESCRIPTIONS = {
    Source.MANUAL: "entered invoice",
    Source.API: "billed by the provider (billing API)",
    Source.USAGE: "computed from usage and the price book",
    Source.ESTIMATE: "estimated from resource counts",
}


def service_category(entry: dict) -> str:
    """The FOCUS ServiceCategory of an entry's service."""
    if entry["category"] != Category.INFRASTRUCTURE:
        return SERVICE_CATEGORIES.get(entry["category"], "Other")
    if entry["provider"] == "digitalocean":
        service = entry["service"].lower()
        return next((cat for word, cat in DIGITALOCEAN_WORDS if word in service), "Compute")
    return INFRASTRUCTURE_CATEGORIES.get(entry["provider"], "Compute")


def focus_rows(ledger: CountedLedger) -> list[list]:
    """One FOCUS row per counted part, in HEADER's order; None is a FOCUS null."""
    return [_row(ledger.entries[part.entry_id], part, ledger.currency) for part in ledger.parts]


def _row(entry: dict, part: EntryPart, reporting: str) -> list:
    name = provider_name(entry["provider"])
    billing_month = month_start(part.first_day)
    quantity, unit = _pricing(entry, part)
    focus = {
        "BilledCost": part.amount,
        "BillingAccountId": entry["provider"],
        "BillingAccountName": None,
        "BillingCurrency": entry["currency"],
        "BillingPeriodEnd": add_months(billing_month, 1),
        "BillingPeriodStart": billing_month,
        "ChargeCategory": _charge_category(entry),
        "ChargeClass": None,
        "ChargeDescription": _description(entry),
        "ChargePeriodEnd": part.last_day + timedelta(days=1),
        "ChargePeriodStart": part.first_day,
        "ContractedCost": part.amount,
        "EffectiveCost": part.amount,
        "InvoiceId": (entry["reference"] or None) if entry["source"] == Source.MANUAL else None,
        "InvoiceIssuerName": name,
        "ListCost": part.amount,
        "PricingQuantity": quantity,
        "PricingUnit": unit,
        "ProviderName": name,
        "PublisherName": name,
        "ServiceCategory": service_category(entry),
        "ServiceName": entry["service"],
    }
    ours = [
        entry["source"],
        entry["reference"] or None,
        entry["category"],
        entry["id"],
        entry["charge_period_start"],
        entry["charge_period_end"],
        entry["billed_cost"],
        reporting,
        part.converted,
    ]
    return [*(focus[column] for column in FOCUS_COLUMNS), *ours]


def _charge_category(entry: dict) -> str:
    if not entry["adjustment"]:
        return "Usage"
    return "Credit" if entry["billed_cost"] < 0 else "Adjustment"


def _pricing(entry: dict, part: EntryPart) -> tuple[Decimal | int | None, str | None]:
    """PricingQuantity and PricingUnit: null for credits and adjustments (FOCUS allows it);
    for a charge, its quantity for the row's days, else the row's days."""
    if entry["adjustment"]:
        return None, None
    if entry["quantity"] is not None and entry["unit"]:
        days = (entry["charge_period_end"] - entry["charge_period_start"]).days
        share = entry["quantity"] if part.days == days else entry["quantity"] * part.days / days
        return share.quantize(LEDGER_QUANTUM), entry["unit"]
    return part.days, "Days"


def _description(entry: dict) -> str:
    how = SOURCE_DESCRIPTIONS.get(entry["source"], entry["source"])
    if entry["source"] == Source.MANUAL and entry["reference"]:
        how = f"{how} {entry['reference']}"
    return f"{provider_name(entry['provider'])} {entry['service']}, {how}"


def focus_value(value) -> str:
    """A value as FOCUS writes it: ISO 8601 UTC instants for days (midnight, with Z), plain
    decimals (never exponent or separators), empty for null, text guarded against formulas."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}T00:00:00Z"
    return formula_guarded(str(value))


class FocusCsv(View):
    """The cost ledger over a report period as a FOCUS 1.2 CSV."""

    site = None

    def get(self, request):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        params = QueryParams(request.GET)
        period = period_read(params)
        if params.errors:
            text = " ".join(f"{name}: {problem}" for name, problem in params.errors.items())
            return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
        ledger = cost_ledger_counted(start=period.start, end=period.end + timedelta(days=1))
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = safe_filename(f"focus_{FOCUS_VERSION}_{period.start}_{period.end}", ".csv")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = csv.writer(response)
        writer.writerow(HEADER)
        writer.writerows([focus_value(v) for v in row] for row in focus_rows(ledger))
        return response
