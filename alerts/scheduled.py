"""Scheduled summaries by email: weekly (the ISO week before, sent from Monday) and monthly (the
month before, sent from the 1st, with the month-end XLSX attached). Each report is sent once per
period (ReportSend's unique constraint decides between concurrent runs); a failed send is
retried like an alert's delivery.

The figures are the reports' own: the Business summary's KPIs for the period against the
previous one, the effective cost per provider, the users' LLM cost from the usage sums."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from alerts.delivery import attempt_recorded, claimed
from alerts.findings import money_text
from alerts.models import (
    Alert,
    AlertState,
    DeliveryStatus,
    Frequency,
    ReportSend,
    ScheduledReport,
    addresses_parse,
)
from costledger.days import add_months, month_start
from costledger.money import exact_text
from costledger.providers import PROVIDERS
from costledger.selectors import effective_cost_by_day
from reports.business_json import business_summary
from reports.exports import XLSX_CONTENT_TYPE, xlsx_bytes
from reports.month_end import month_end_tables, month_period, pack_filename
from reports.periods import Period, period_custom
from usage.effective import effective_rows, summed_table
from usage.models import LlmUsageUserDaily
from usage.top_users import llm_cost_by_user

MOVERS = 5


def due_period(frequency: str, today: date) -> tuple[str, Period]:
    """The last full week (Monday to Sunday) or month before `today`, and its key."""
    if frequency == Frequency.WEEKLY:
        monday = today - timedelta(days=today.weekday() + 7)
        year, week, _ = monday.isocalendar()
        return f"{year}-W{week:02}", period_custom(start=monday, end=monday + timedelta(days=6))
    month = add_months(month_start(today), -1)
    return f"{month:%Y-%m}", month_period(month)


@dataclass
class Mover:
    name: str
    now: Decimal
    before: Decimal

    @property
    def change(self) -> Decimal:
        return self.now - self.before


def provider_movers(period: Period) -> list[Mover]:
    """Providers whose effective cost changed most from the previous period."""
    compared = period.compare
    costs = effective_cost_by_day(start=compared.start, end=period.end + timedelta(days=1))
    now: dict[str, Decimal] = defaultdict(Decimal)
    before: dict[str, Decimal] = defaultdict(Decimal)
    for cost in costs.days:
        (now if cost.day >= period.start else before)[cost.provider] += cost.amount
    movers = [
        Mover(PROVIDERS[p].name if p in PROVIDERS else p, now[p], before[p])
        for p in set(now) | set(before)
    ]
    return _biggest(movers)


def user_movers(period: Period) -> list[Mover]:
    """The period's top users by LLM cost, against their own cost in the previous period."""
    top = llm_cost_by_user(start=period.start, end=period.end, limit=20)
    ids = [u.user_id for u in top]
    compared = period.compare
    before = dict(
        effective_rows(summed_table(LlmUsageUserDaily), start=compared.start, end=compared.end)
        .filter(user_id__in=ids)
        .values("user_id")
        .annotate(cost=Sum("cost"))
        .values_list("user_id", "cost")
    )
    movers = [
        Mover(u.email or u.user_id, u.cost or Decimal(0), before.get(u.user_id) or Decimal(0))
        for u in top
    ]
    return _biggest(movers)


def _biggest(movers: list[Mover]) -> list[Mover]:
    movers = [m for m in movers if m.change]
    return sorted(movers, key=lambda m: (-abs(m.change), m.name))[:MOVERS]


def report_text(report: ScheduledReport, period: Period, *, monthly: bool) -> tuple[str, str]:
    """The subject and the plain-text body of `report` for `period`."""
    summary = business_summary(period=period)
    currency = settings.REPORTING_CURRENCY
    compared = period.compare
    lines = [
        f"{report.name}: {period.start} to {period.end}, compared with {compared.start} to "
        f"{compared.end}. Money in {currency}.",
        "",
        "Key figures",
    ]
    for kpi in summary["kpis"].values():
        change = f" ({kpi['change_percent']}%)" if kpi.get("change_percent") is not None else ""
        note = f"  incomplete: {'; '.join(kpi['incomplete'])}" if kpi.get("incomplete") else ""
        lines.append(
            f"- {kpi['label']}: {_amount(kpi['value'], currency)}, before "
            f"{_amount(kpi.get('previous'), currency)}{change}{note}"
        )
    for title, movers in (("Top movers by provider", provider_movers(period)),
                          ("Top movers by user (LLM cost)", user_movers(period))):  # fmt: skip
        lines += ["", title]
        lines += [
            f"- {m.name}: {money_text(m.now, currency)}, before {money_text(m.before, currency)} "
            f"({'+' if m.change > 0 else '-'}{money_text(abs(m.change), currency)})"
            for m in movers
        ] or ["- no change"]
    open_alerts = list(Alert.objects.filter(state=AlertState.OPEN).order_by("-fired_at")[:20])
    lines += ["", f"Open alerts ({len(open_alerts)})"]
    lines += [f"- {a.fired_at:%Y-%m-%d} {a.title}" for a in open_alerts] or ["- none"]
    site = settings.SITE_URL.rstrip("/")
    query = f"start={period.start}&end={period.end}"
    lines += ["", f"The whole report: {site}{reverse('admin:business')}?{query}"]
    if monthly:
        lines.append(f"Attached: the month-end pack for {period.start:%Y-%m}.")
    return f"[costledger] {report.name}: {period.label}", "\n".join(lines)


def reports_send(*, now: datetime | None = None, dry_run: bool = False) -> list[dict]:
    """Queue each enabled report's due period once, then send what is due (retries included);
    what was sent, retried or failed, or, with `dry_run`, what would be."""
    now = now or timezone.now()
    done = []
    for report in ScheduledReport.objects.filter(enabled=True).order_by("pk"):
        key, _ = due_period(report.frequency, now.date())
        if dry_run:
            if not ReportSend.objects.filter(report=report, period=key).exists():
                done.append({"report": report.name, "period": key, "status": "would send"})
            continue
        try:
            with transaction.atomic():
                ReportSend.objects.create(report=report, period=key, next_attempt_at=now)
        except IntegrityError:
            pass  # queued before: sent, or retried below when due
    if dry_run:
        return done
    due = ReportSend.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now, report__enabled=True
    )
    for send in due.select_related("report").order_by("pk"):
        if claimed(send):  # else another run has it
            status = attempt_recorded(send, lambda s=send: _send(s))
            done.append({"report": send.report.name, "period": send.period, "status": status})
    return done


def _send(send: ReportSend) -> None:
    """Email the report of `send`'s period (the monthly one with its month-end pack)."""
    report = send.report
    period, monthly = _period_of(send.period), "-W" not in send.period
    subject, body = report_text(report, period, monthly=monthly)
    message = EmailMessage(subject=subject, body=body, to=addresses_parse(report.recipients))
    if monthly:
        tables = month_end_tables(month=period.start)
        title = f"Month-end pack {period.start:%Y-%m}"
        message.attach(pack_filename(period.start), xlsx_bytes(tables, title=title),
                       XLSX_CONTENT_TYPE)  # fmt: skip
    message.send()


def _amount(value: str | None, currency: str) -> str:
    """A KPI's exact decimal string as people read it: 13,994.80."""
    return "unknown" if value is None else exact_text(Decimal(value), currency)


def _period_of(key: str) -> Period:
    """The period a stored key names, "2026-W48" or "2026-11", whatever the report's frequency
    is now (it may have changed since the send was queued)."""
    if "-W" in key:
        monday = date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
        return period_custom(start=monday, end=monday + timedelta(days=6))
    return month_period(date.fromisoformat(f"{key}-01"))
