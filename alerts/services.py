"""Checking the rules and raising alerts: each condition found once per (rule, scope, threshold,
period), with one delivery per enabled channel, whatever how often or how concurrently the
checks run (the alert's unique constraint decides: the second inserter gets an IntegrityError
and sends nothing)."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from alerts.budgets import BudgetMonth, budget_months
from alerts.findings import Finding, money_text
from alerts.models import (
    Alert,
    AlertState,
    Channel,
    Delivery,
    DeliveryEvent,
    RuleKind,
)
from alerts.rules import rule_findings

logger = logging.getLogger(__name__)


@dataclass
class CheckResult:
    findings: list[Finding]
    raised: list[Alert]  # the alerts this check created (each notified once)
    resolved: list[Alert]
    skipped: list[str]  # what could not be checked, and why
    dry_run: bool = False


def alerts_check(*, now: datetime | None = None, dry_run: bool = False) -> CheckResult:
    """Evaluate every rule now; unless `dry_run`, raise the alerts found for the first time and
    queue their notifications (sent by `deliveries_send`). A finding that cannot be stored is
    reported in `skipped`; the others are raised all the same."""
    now = now or timezone.now()
    findings, skipped, healthy = rule_findings(now=now)
    months = budget_months(today=now.date())
    skipped += [reason for month in months if (reason := month.not_compared)]
    findings = [*budget_findings(months=months), *findings]
    if dry_run:
        return CheckResult(findings, [], [], skipped, dry_run=True)
    raised = []
    for finding in findings:
        try:
            if (alert := alert_raise(finding, now=now)) is not None:
                raised.append(alert)
        except DatabaseError as error:
            logger.exception("alert %s could not be stored", finding.key)
            skipped.append(f"{finding.title}: could not be stored ({type(error).__name__})")
    resolved = alerts_resolve(healthy, now=now)
    return CheckResult(findings, raised, resolved, skipped)


def alerts_raised_before(findings: list[Finding]) -> set[tuple[str, str, str, str]]:
    """The keys of the findings already raised as alerts (what a dry run would not notify)."""
    keys = {f.key for f in findings}
    rules = {f.rule for f in findings}
    stored = Alert.objects.filter(rule__in=rules).values_list(
        "rule", "scope", "threshold", "period"
    )
    return {key for key in stored if key in keys}


def alert_raise(finding: Finding, *, now: datetime) -> Alert | None:
    """The alert of `finding` with a pending delivery per enabled channel, or None when it was
    raised before (by this or a concurrent check)."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=finding.rule,
                scope=finding.scope,
                threshold=finding.threshold,
                period=finding.period,
                budget_id=finding.budget_id,
                title=finding.title[:300],
                message=finding.message,
                link=finding.link,
                figures=finding.figures,
                incomplete=finding.incomplete,
                fired_at=now,
            )
            _deliveries_queue(alert, DeliveryEvent.FIRED, now=now)
    except IntegrityError:
        return None
    return alert


def alerts_resolve(healthy: list[tuple[str, str]], *, now: datetime) -> list[Alert]:
    """Resolve the open alerts of the (rule, scope) whose condition no longer holds, each once:
    a conditional update decides between concurrent checks."""
    resolved = []
    for rule, scope in healthy:
        for alert in Alert.objects.filter(rule=rule, scope=scope, state=AlertState.OPEN):
            with transaction.atomic():
                claimed = Alert.objects.filter(pk=alert.pk, state=AlertState.OPEN).update(
                    state=AlertState.RESOLVED, resolved_at=now
                )
                if claimed:
                    alert.state, alert.resolved_at = AlertState.RESOLVED, now
                    _deliveries_queue(alert, DeliveryEvent.RESOLVED, now=now)
                    resolved.append(alert)
    return resolved


def _deliveries_queue(alert: Alert, event: str, *, now: datetime) -> None:
    Delivery.objects.bulk_create(
        [
            Delivery(alert=alert, channel=channel, event=event, next_attempt_at=now)
            for channel in Channel.objects.filter(enabled=True).order_by("pk")
        ],
        ignore_conflicts=True,
    )


def budget_findings(*, months: list[BudgetMonth]) -> list[Finding]:
    findings = []
    for month in months:
        budget = month.budget
        period = f"{month.month:%Y-%m}"
        scope_label = budget.get_scope_display()
        amount = money_text(budget.amount, budget.currency)
        note = _incomplete_note(month.incomplete)
        figures = {
            "budget": str(budget.amount),
            "currency": budget.currency,
            "actual": None if month.actual is None else str(month.actual),
            "forecast": None if month.forecast is None else str(month.forecast),
            "month": period,
            "to": month.today.isoformat(),
            "incomplete": month.incomplete,
        }
        link = _budget_link(budget.scope, closed=month.closed)
        for threshold in month.thresholds_reached():
            findings.append(
                Finding(
                    rule=RuleKind.BUDGET,
                    scope=f"budget:{budget.pk}",
                    threshold=str(threshold),
                    period=period,
                    title=f"Budget {budget.name}: {threshold}% reached in {period}",
                    message=(
                        f"{scope_label} spent {money_text(month.actual, budget.currency)} of "
                        f"{amount} ({month.percent:.1f}%) from {month.month} to {month.today}, "
                        f"reaching the {threshold}% threshold of budget {budget.name!r}.{note}"
                    ),
                    link=link,
                    figures={**figures, "threshold_percent": threshold},
                    incomplete=bool(month.incomplete),
                    budget_id=budget.pk,
                )
            )
        if month.forecast_over:
            findings.append(
                Finding(
                    rule=RuleKind.BUDGET_FORECAST,
                    scope=f"budget:{budget.pk}",
                    threshold="forecast",
                    period=period,
                    title=f"Budget {budget.name}: heading over in {period}",
                    message=(
                        f"{scope_label} is projected to spend "
                        f"{money_text(month.forecast, budget.currency)} in {period}, over the "
                        f"budget of {amount} (spent so far: "
                        f"{money_text(month.actual, budget.currency)} to {month.today}; "
                        "projection: the month to yesterday plus the last 7 days' daily run "
                        f"rate for each day left).{note}"
                    ),
                    link=link,
                    figures=figures,
                    incomplete=bool(month.incomplete),
                    budget_id=budget.pk,
                )
            )
    return findings


def _incomplete_note(reasons: list[str]) -> str:
    if not reasons:
        return ""
    return f" Incomplete, the real figure is higher: {'; '.join(reasons)}."


def _budget_link(scope: str, *, closed: bool) -> str:
    """The page that explains a budget's figure: the Business summary of the month, or Costs by
    provider for a provider."""
    page = "admin:costs_by_provider" if scope.startswith("provider:") else "admin:business"
    return f"{reverse(page)}?period={'last_month' if closed else 'this_month'}"
