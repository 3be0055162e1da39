"""The per-user page: one user's LLM usage over a report period, beside the comparison period's
totals; its trend, per provider, model and tag, and the requests left unpriced; its tables as
CSV and XLSX. The figures come from usage.user_usage; this module buckets and lays them out.

The user is named by the query, `?user_id=...`, with the period's usual parameters: a query value
round-trips every character a user id may hold ("/", "%", "..", spaces, unicode, and "" for the
usage sent without a user id), where a path segment would be cut at "/" and resolved at "..".
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View

from costledger.money import round_money
from costledger.query_params import QueryParams
from costledger.validators import REPLACEMENT, UNSTORABLE
from reports.buckets import Bucket, buckets_for
from reports.exports import csv_response, xlsx_response
from reports.pages import _period_bar, business_period
from reports.periods import Period, period_query, period_read
from reports.tables import Table
from usage.effective import LLM_CURRENCY, llm_page_scope
from usage.user_usage import (
    USER_ID_MAX_LENGTH,
    LlmUserUsage,
    UsageCounts,
    llm_user_known,
    llm_user_totals,
    llm_user_usage,
)

NO_USER_LABEL = "Requests without a user id"
REVENUE_NOTE = "Revenue per user comes with customer billing"
CSP = "script-src 'self'; object-src 'none'"
# The KPI cards: (key, label, the figure of UsageCounts, money?)
KPIS = [
    ("cost", "LLM cost", lambda c: c.cost, True),
    ("requests", "Requests", lambda c: c.requests, False),
    ("tokens", "Tokens", lambda c: c.tokens, False),
    ("errors", "Errors", lambda c: c.errors, False),
    ("unpriced_requests", "Unpriced requests", lambda c: c.unpriced_requests, False),
]
TOKEN_COLUMNS = [
    ("input_tokens", "Input tokens"),
    ("output_tokens", "Output tokens"),
    ("cache_read_tokens", "Cache read tokens"),
    ("cache_write_tokens", "Cache write tokens"),
    ("reasoning_tokens", "Reasoning tokens"),
]
# The other quantities customer billing charges, in the units it charges them (exact: 1,500 ms
# is 0.025 minutes; 2,048 bytes 0.000002048 GB).
QUANTITY_COLUMNS = [
    ("Images", lambda c: c.images),
    ("Streaming (minutes)", lambda c: Decimal(c.stream_duration_ms) / 60_000),
    ("Bandwidth (GB)", lambda c: Decimal(c.bandwidth_bytes).scaleb(-9)),
]


def user_page_url(*, user_id: str, period: Period | None = None) -> str:
    """The page of `user_id` (over `period`, else the default period)."""
    query = urlencode({"user_id": user_id})
    if period is not None:
        query = f"{query}&{period_query(period)}"
    return f"{reverse('admin:user_usage')}?{query}"


class UnknownUser(Exception):
    """The page cannot show this user id: never seen, or no id could be stored like it."""


class UserIdMissing(Exception):
    pass


def user_id_read(request) -> str:
    """The `user_id` the query names ("" included). Raises UserIdMissing without one (or with
    two), UnknownUser for an id no column can hold (so no usage can be recorded under it)."""
    values = request.GET.getlist("user_id")
    if len(values) != 1:
        raise UserIdMissing(
            "Name one user: add ?user_id=<the user id> (the Business summary's top users link "
            "here)."
            if not values
            else f"user_id is given {len(values)} times; give it once."
        )
    user_id = values[0]
    storable = not UNSTORABLE.search(user_id) and REPLACEMENT not in user_id
    if not storable or len(user_id) > USER_ID_MAX_LENGTH:
        raise UnknownUser(user_id)
    return user_id


def user_label(user_id: str, email: str | None) -> str:
    if user_id == "":
        return NO_USER_LABEL
    return email or user_id


# --- the figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendBucket:
    bucket: Bucket
    counts: UsageCounts


@dataclass(frozen=True)
class UserReport:
    period: Period
    usage: LlmUserUsage
    previous: UsageCounts | None  # the comparison period's totals; None: not compared
    unit: str  # day, week or month
    unit_description: str
    trend: list[TrendBucket]

    @property
    def known(self) -> bool:
        """Whether there is anyone to show: usage in the period or the comparison period, or a
        user Supabase auth or the ingested usage knows (shown with zeros for this period)."""
        previous = self.previous.requests if self.previous else 0
        used = self.usage.totals.requests or previous
        return bool(used) or llm_user_known(user_id=self.usage.user_id)

    @property
    def label(self) -> str:
        return user_label(self.usage.user_id, self.usage.email)


def user_report(*, user_id: str, period: Period, today: date | None = None) -> UserReport:
    today = today or timezone.now().date()
    with llm_page_scope():
        usage = llm_user_usage(user_id=user_id, start=period.start, end=period.end)
        previous = None
        if period.compare is not None:
            previous = llm_user_totals(
                user_id=user_id, start=period.compare.start, end=period.compare.end
            )
    buckets = buckets_for(start=period.start, end=period.end, today=today)
    by_day = {d.day: d.counts for d in usage.days}
    trend = [
        TrendBucket(
            bucket,
            sum(
                (c for day, c in by_day.items() if bucket.start <= day <= bucket.end),
                UsageCounts(),
            ),
        )
        for bucket in buckets.items
    ]
    return UserReport(period, usage, previous, buckets.unit, buckets.description, trend)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(round_money(value, LLM_CURRENCY))


def _change(value, previous) -> str | None:
    if value is None or previous is None or previous == 0:
        return None
    return str(
        ((Decimal(value) - previous) / abs(Decimal(previous)) * 100).quantize(Decimal("0.1"))
    )


def report_kpis(report: UserReport) -> list[dict]:
    totals, previous = report.usage.totals, report.previous
    cards = []
    for key, label, figure, is_money in KPIS:
        value = figure(totals)
        before = figure(previous) if previous is not None else None
        cards.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "money": is_money,
                "previous": before,
                "change_percent": _change(value, before),
                "incomplete": key == "cost" and totals.unpriced_requests > 0,
            }
        )
    return cards


def report_quantities(report: UserReport) -> list[tuple[str, str]]:
    """Images, streaming minutes and bandwidth over the period (what customer plans may charge
    besides tokens), exact, or nothing when the user has none of them."""
    values = [(label, figure(report.usage.totals)) for label, figure in QUANTITY_COLUMNS]
    if not any(value for _, value in values):
        return []
    return [(label, f"{Decimal(value).normalize():,f}") for label, value in values]


def chart_data(report: UserReport) -> dict:
    """What static/costledger/user.js draws: money as exact strings, never floats."""
    return {
        "currency": LLM_CURRENCY,
        "unit": report.unit,
        "description": report.unit_description,
        "labels": [t.bucket.label(report.unit) for t in report.trend],
        "cost": [_money(t.counts.cost) for t in report.trend],
        "requests": [t.counts.requests for t in report.trend],
        "unpriced": [t.counts.unpriced_requests for t in report.trend],
        "partial": [t.bucket.partial for t in report.trend],
        "days": [t.bucket.days for t in report.trend],
    }


# --- the tables (the page's sections, as the downloads write them) --------------------------


def report_tables(report: UserReport) -> list[Table]:
    usage, period = report.usage, report.period
    note = (
        f"{report.label} ({usage.user_id or 'no user id'}), {period.start} to {period.end}; "
        f"costs in {LLM_CURRENCY}"
    )
    return [
        _totals_table(report, note),
        _trend_table(report, note),
        _providers_table(usage, note),
        _models_table(usage, note),
        _tags_table(usage, note),
        _unpriced_table(usage, note),
    ]


TABLE_NAMES = ["totals", "trend", "providers", "models", "tags", "unpriced"]


def _totals_table(report: UserReport, note: str) -> Table:
    compare = report.period.compare
    headers = ["Figure", f"{report.period.start} to {report.period.end}"]
    if compare is not None:
        headers.append(f"{compare.label}, {compare.start} to {compare.end}")
    rows = []
    figures = [
        ("LLM cost (USD)", lambda c: c.cost),
        ("Requests", lambda c: c.requests),
        ("Errors", lambda c: c.errors),
        *((label, lambda c, n=name: getattr(c, n)) for name, label in TOKEN_COLUMNS),
        ("Tokens", lambda c: c.tokens),
        *QUANTITY_COLUMNS,
        ("Unpriced requests", lambda c: c.unpriced_requests),
    ]
    for label, figure in figures:
        row = [label, figure(report.usage.totals)]
        if compare is not None:
            row.append(figure(report.previous))
        rows.append(tuple(row))
    rows.append(("Revenue", REVENUE_NOTE, *([REVENUE_NOTE] if compare is not None else [])))
    return Table("totals", "Totals", headers, rows, note)


def _trend_table(report: UserReport, note: str) -> Table:
    headers = ["From", "To", "Partial", "Requests", "Errors", "Tokens", "Cost (USD)",
               "Unpriced requests"]  # fmt: skip
    rows = [
        (t.bucket.start, t.bucket.end, "partial" if t.bucket.partial else "", t.counts.requests,
         t.counts.errors, t.counts.tokens, t.counts.cost, t.counts.unpriced_requests)
        for t in report.trend
    ]  # fmt: skip
    return Table("trend", f"Usage {report.unit_description}", headers, rows, note)


def _providers_table(usage: LlmUserUsage, note: str) -> Table:
    headers = ["Provider", "Requests", "Errors", "Tokens", "Cost (USD)", "Unpriced requests"]
    rows = [
        (p.provider, p.counts.requests, p.counts.errors, p.counts.tokens, p.counts.cost,
         p.counts.unpriced_requests)
        for p in usage.providers
    ]  # fmt: skip
    return Table("providers", "Per provider", headers, rows, note)


def _models_table(usage: LlmUserUsage, note: str) -> Table:
    headers = ["Provider", "Model", "Requests", "Errors", *(label for _, label in TOKEN_COLUMNS),
               "Cost (USD)", "Unpriced requests"]  # fmt: skip
    rows = [
        (m.provider, m.model, m.counts.requests, m.counts.errors,
         *(getattr(m.counts, name) for name, _ in TOKEN_COLUMNS), m.counts.cost,
         m.counts.unpriced_requests)
        for m in usage.models
    ]  # fmt: skip
    return Table("models", "Per model", headers, rows, note)


def _tags_table(usage: LlmUserUsage, note: str) -> Table:
    headers = ["Tag", "Value", "Requests", "Cost (USD)", "Unpriced requests"]
    rows = [(t.key, t.value, t.requests, t.cost, t.unpriced_requests) for t in usage.tags]
    return Table("tags", "Per tag (ingested events)", headers, rows, note)


def _unpriced_table(usage: LlmUserUsage, note: str) -> Table:
    headers = ["Provider", "Model", "Unpriced requests", "First day", "Last day"]
    rows = [(u.provider, u.model, u.requests, u.first_day, u.last_day) for u in usage.unpriced]
    return Table("unpriced", "Unpriced requests", headers, rows, note)


# --- the views -----------------------------------------------------------------------------


def _not_found(request, site, user_id: str, period: Period | None = None) -> TemplateResponse:
    shown = user_id if len(user_id) <= 80 else f"{user_id[:80]}…"
    context = {
        **site.each_context(request),
        "title": "No such user",
        "period": period,
        "user_id_shown": ascii(shown)[1:-1] if UNSTORABLE.search(shown) else shown,
        "usage_url": reverse("admin:usage_llmusagedaily_changelist"),
    }
    return TemplateResponse(request, "admin/reports/user_unknown.html", context, status=404)


def _bad_request(request, site, problem: str) -> TemplateResponse:
    context = {**site.each_context(request), "title": "Which user?", "problem": problem}
    return TemplateResponse(request, "admin/reports/user_unknown.html", context, status=400)


class UserUsagePage(View):
    """One user's LLM usage over a period: email, totals against the comparison period, the
    trend, per provider, model and tag, and their unpriced requests."""

    site = None

    def get(self, request):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        try:
            user_id = user_id_read(request)
        except UserIdMissing as missing:
            return _bad_request(request, self.site, str(missing))
        except UnknownUser as unknown:
            return _not_found(request, self.site, unknown.args[0])
        period = business_period(request)
        report = user_report(user_id=user_id, period=period)
        if not report.known:
            return _not_found(request, self.site, user_id, period)
        query = f"{urlencode({'user_id': user_id})}&{period_query(period)}"
        context = {
            **self.site.each_context(request),
            **_user_period_bar(period, user_id),
            "title": f"LLM usage of {report.label}",
            "report": report,
            "usage": report.usage,
            "kpis": report_kpis(report),
            "quantities": report_quantities(report),
            "chart": chart_data(report),
            "tables": dict(zip(TABLE_NAMES, report_tables(report), strict=True)),
            "currency": LLM_CURRENCY,
            "revenue_note": REVENUE_NOTE,
            "download_query": query,
            "exports": [("Every table as XLSX", f"{reverse('admin:user_usage_xlsx')}?{query}")],
            "daily_rows_url": reverse("admin:usage_llmusagedaily_changelist")
            + "?"
            + urlencode({"user_id": user_id, "day__gte": period.start, "day__lte": period.end}),
            "unpriced_url": reverse("admin:llm_unpriced"),
            "business_url": f"{reverse('admin:business')}?{period_query(period)}",
        }
        response = TemplateResponse(request, "admin/reports/user.html", context)
        # The chart is drawn by our own static script from json_script data: no inline script.
        response["Content-Security-Policy"] = CSP
        return response


def _user_period_bar(period: Period, user_id: str) -> dict:
    """The shared period bar, its links and its form keeping the user."""
    bar = _period_bar(period)
    keep = urlencode({"user_id": user_id})
    bar["presets"] = [{**p, "url": f"?{keep}&{p['url'][1:]}"} for p in bar["presets"]]
    return {**bar, "period_keep": [("user_id", user_id)]}


def _nobody() -> HttpResponse:
    return HttpResponse(
        "No LLM usage is recorded for that user id.", status=404, content_type="text/plain"
    )


class _UserDownload(View):
    site = None

    def report(self, request) -> UserReport | HttpResponse:
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        try:
            user_id = user_id_read(request)
        except UserIdMissing as missing:
            return HttpResponse(str(missing), status=400, content_type="text/plain")
        except UnknownUser:
            return _nobody()
        params = QueryParams(request.GET)
        period = period_read(params)
        if params.errors:
            problems = " ".join(f"{name}: {problem}" for name, problem in params.errors.items())
            return HttpResponse(problems, status=400, content_type="text/plain")
        report = user_report(user_id=user_id, period=period)
        return report if report.known else _nobody()

    @staticmethod
    def filename(report: UserReport, part: str) -> str:
        period = report.period
        return f"llm_user_{report.usage.user_id[:40] or 'none'}_{part}_{period.start}_{period.end}"


class UserUsageCsv(_UserDownload):
    """One table of the page as CSV, for the same user and period."""

    def get(self, request, table):
        report = self.report(request)
        if isinstance(report, HttpResponse):
            return report
        tables = dict(zip(TABLE_NAMES, report_tables(report), strict=True))
        if table not in tables:
            raise Http404(f"No table named {table}.")
        return csv_response(tables[table], filename=self.filename(report, table))


class UserUsageXlsx(_UserDownload):
    """Every table of the page as one workbook, a sheet each."""

    def get(self, request):
        report = self.report(request)
        if isinstance(report, HttpResponse):
            return report
        return xlsx_response(
            report_tables(report),
            filename=self.filename(report, "usage"),
            title=f"LLM usage of {report.label}, {report.period.start} to {report.period.end}",
        )
