"""The alert rules other than budgets, each switched off or tuned by its AlertRule row:

- cost spike per provider: a day's effective cost above median + factor x MAD of the previous
  `baseline_days` days (days without cost count as 0) and above the minimum amount;
- a user's LLM cost spike: a user's day above factor x their median of the previous days and
  above the minimum (abuse, a client in a loop);
- sync health: a set-up collector whose last run failed or with no success for
  COLLECTOR_STALE_HOURS (the health page's rule); its recovery resolves the alert;
- unpriced usage: a model with usage the price book cannot cost, once per model.

Days are UTC; the spikes look at yesterday (the last full day) and today so far.
"""

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import median
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Sum
from django.urls import reverse

from alerts.findings import Finding, money_text
from alerts.models import AlertRule, RuleKind
from collectors.models import RunStatus
from collectors.selectors import collector_health
from costledger.providers import PROVIDERS
from costledger.selectors import effective_cost_by_day
from usage.effective import effective_rows, summed_table
from usage.models import LlmUsageUserDaily
from usage.selectors import LLM_CURRENCY, llm_unpriced_models

logger = logging.getLogger(__name__)

DEFAULTS = {  # what the migration creates, and what a missing row means
    RuleKind.COST_SPIKE: {"factor": Decimal(4), "minimum_amount": Decimal(10), "baseline_days": 28},
    RuleKind.USER_SPIKE: {"factor": Decimal(5), "minimum_amount": Decimal(5), "baseline_days": 28},
    RuleKind.SYNC_HEALTH: {},
    RuleKind.UNPRICED_USAGE: {},
}


def rule_findings(*, now: datetime) -> tuple[list, list[str], list[tuple[str, str]]]:
    """The findings of every enabled rule, what could not be checked and why, and the (rule,
    scope) pairs found healthy (their open alerts resolve). A rule that fails is reported and
    the others still run."""
    rules = {rule.kind: rule for rule in AlertRule.objects.all()}
    findings: list[Finding] = []
    skipped: list[str] = []
    healthy: list[tuple[str, str]] = []
    today = now.date()
    for kind in DEFAULTS:
        rule = rules.get(kind)
        if rule is not None and not rule.enabled:
            continue
        figures = {**DEFAULTS[kind], **_set(rule)}
        try:
            if kind == RuleKind.COST_SPIKE:
                findings += cost_spikes(today=today, **figures)
            elif kind == RuleKind.USER_SPIKE:
                findings += user_spikes(today=today, **figures)
            elif kind == RuleKind.SYNC_HEALTH:
                unhealthy, fine = sync_health(now=now)
                findings += unhealthy
                healthy += fine
            else:
                findings += unpriced_usage()
        except Exception as error:  # noqa: BLE001 (one rule's failure never stops the others)
            logger.exception("alert rule %s failed", kind)
            skipped.append(f"{RuleKind(kind).label}: the rule failed ({type(error).__name__})")
    return findings, skipped, healthy


def _set(rule: AlertRule | None) -> dict:
    if rule is None:
        return {}
    values = {
        "factor": rule.factor,
        "minimum_amount": rule.minimum_amount,
        "baseline_days": rule.baseline_days,
    }
    return {k: v for k, v in values.items() if v is not None and k in DEFAULTS[rule.kind]}


def _checked_days(today: date) -> list[date]:
    return [today - timedelta(days=1), today]


def spike_over(baseline: list[Decimal], *, factor: Decimal) -> Decimal:
    """median + factor x MAD (median absolute deviation) of `baseline`."""
    middle = median(baseline)
    mad = median([abs(x - middle) for x in baseline])
    return middle + factor * mad


def cost_spikes(*, today: date, factor: Decimal, minimum_amount: Decimal, baseline_days: int):
    first = today - timedelta(days=1 + baseline_days)
    costs = effective_cost_by_day(start=first, end=today + timedelta(days=1))
    daily: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for cost in costs.days:
        daily[cost.provider][cost.day] += cost.amount
    currency = settings.REPORTING_CURRENCY
    findings = []
    for provider, days in sorted(daily.items()):
        for day in _checked_days(today):
            before = [
                days.get(day - timedelta(days=n), Decimal(0)) for n in range(1, baseline_days + 1)
            ]
            limit = spike_over(before, factor=factor)
            cost = days.get(day, Decimal(0))
            if cost > limit and cost >= minimum_amount:
                name = PROVIDERS[provider].name if provider in PROVIDERS else provider
                findings.append(
                    Finding(
                        rule=RuleKind.COST_SPIKE,
                        scope=f"provider:{provider}",
                        threshold="",
                        period=day.isoformat(),
                        title=f"Cost spike: {name} on {day}",
                        message=(
                            f"{name} cost {money_text(cost, currency)} on {day}"
                            f"{' (so far)' if day == today else ''}, above "
                            f"{money_text(limit, currency)} (the median of the previous "
                            f"{baseline_days} days, {money_text(median(before), currency)}, plus "
                            f"{_plain(factor)} x their median absolute deviation)."
                        ),
                        link=f"{reverse('admin:cost_cell')}?provider={provider}"
                        f"&start={day}&end={day}",
                        figures={"cost": str(cost), "limit": str(limit), "currency": currency,
                                 "day": day.isoformat(), "median": str(median(before))},
                    )
                )  # fmt: skip
    return findings


def user_spikes(*, today: date, factor: Decimal, minimum_amount: Decimal, baseline_days: int):
    """Users whose cost on a checked day reaches the minimum, against their own previous days
    (only those users' rows are read)."""
    table = summed_table(LlmUsageUserDaily)
    findings = []
    for day in _checked_days(today):
        candidates = (
            effective_rows(table, start=day, end=day)
            .exclude(user_id="")
            .values("user_id")
            .annotate(cost=Sum("cost"))
            .filter(cost__gte=minimum_amount)
        )
        costs = {row["user_id"]: row["cost"] for row in candidates}
        if not costs:
            continue
        history = (
            effective_rows(
                table, start=day - timedelta(days=baseline_days), end=day - timedelta(days=1)
            )
            .filter(user_id__in=list(costs))
            .values("user_id", "day")
            .annotate(cost=Sum("cost"))
        )
        before: dict[str, dict[date, Decimal]] = defaultdict(dict)
        for row in history:
            before[row["user_id"]][row["day"]] = row["cost"] or Decimal(0)
        for user_id, cost in sorted(costs.items()):
            days = [
                before[user_id].get(day - timedelta(days=n), Decimal(0))
                for n in range(1, baseline_days + 1)
            ]
            usual = median(days)
            if cost > factor * usual:
                findings.append(
                    _user_spike(user_id, day, cost, usual, factor, baseline_days, today)
                )
    return findings


def _user_spike(user_id, day, cost, usual, factor, baseline_days, today) -> Finding:
    currency = LLM_CURRENCY  # the usage sums' costs, whatever the reporting currency
    return Finding(
        rule=RuleKind.USER_SPIKE,
        scope=f"user:{user_id}",
        threshold="",
        period=day.isoformat(),
        title=f"LLM cost spike: user {user_id} on {day}",
        message=(
            f"User {user_id} cost {money_text(cost, currency)} in LLM usage on {day}"
            f"{' (so far)' if day == today else ''}, over {_plain(factor)} x their median day "
            f"of the previous {baseline_days} days ({money_text(usual, currency)}): abuse, or a "
            "client in a loop?"
        ),
        link=f"{reverse('admin:user_usage')}?"
        + urlencode({"user_id": user_id, "start": day, "end": day}),
        figures={"cost": str(cost), "median": str(usual), "factor": str(factor),
                 "currency": currency, "day": day.isoformat()},
    )  # fmt: skip


def _plain(number: Decimal) -> str:
    """4, 2.5: a factor as people write it (the column holds 4.00)."""
    return f"{number.normalize():f}"


def sync_health(*, now: datetime) -> tuple[list[Finding], list[tuple[str, str]]]:
    findings, healthy = [], []
    for health in collector_health():
        scope = f"collector:{health.name}"
        failed = (
            health.configured
            and health.last_run is not None
            and health.last_run.status == RunStatus.FAILED
        )
        if not (failed or health.stale):
            if health.configured:
                healthy.append((RuleKind.SYNC_HEALTH, scope))
            continue
        last = health.last_success.isoformat(timespec="minutes") if health.last_success else "never"
        why = (
            f"its last run failed ({_first_line(health.last_run.reason)})"
            if failed
            else f"no success for {settings.COLLECTOR_STALE_HOURS} hours"
        )
        findings.append(
            Finding(
                rule=RuleKind.SYNC_HEALTH,
                scope=scope,
                threshold="",
                period=now.isoformat(timespec="seconds"),
                title=f"Sync failing: {health.provider_name}",
                message=(
                    f"The {health.provider_name} collector needs attention: {why}. Last "
                    f"success: {last}. Its costs in the reports are getting old until it runs "
                    "again."
                ),
                link=reverse("admin:collectors_health"),
                figures={"collector": health.name, "last_success": last, "failed": failed},
            )
        )
    return findings, healthy


def _first_line(text: str) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:200] if lines else "no reason recorded"


def unpriced_usage() -> list[Finding]:
    return [
        Finding(
            rule=RuleKind.UNPRICED_USAGE,
            scope=f"model:{m.provider}/{m.model}",
            threshold="",
            period="",
            title=f"Unpriced usage: {m.provider}/{m.model}",
            message=(
                f"{m.requests:,} requests to {m.provider}/{m.model} (from {m.first_day} to "
                f"{m.last_day}) have no price in the price book: their cost is unknown and "
                "left out of every LLM figure until the model is priced."
            ),
            link=reverse("admin:llm_unpriced"),
            figures={"provider": m.provider, "model": m.model, "requests": m.requests},
        )
        for m in llm_unpriced_models()
    ]
