"""Celery tasks of customer billing: beat drafts the invoices of the month just ended."""

import logging

from celery import shared_task
from django.utils import timezone

from billing.issuing import billing_run
from costledger.days import add_months, month_start

log = logging.getLogger(__name__)


@shared_task
def billing_run_task() -> dict:
    """Create or refresh the drafts of the month before this one (UTC): the count per outcome
    (created, updated, unchanged, finalized, error...). A customer whose invoice could not be
    computed is logged with what to fix; `billing_run` or the admin's "Run a month" retries."""
    month = add_months(month_start(timezone.now().date()), -1)
    counts: dict[str, int] = {}
    for outcome in billing_run(month=month):
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        if outcome.outcome == "error":
            log.warning("Invoice of %s for %s not computed: %s", outcome.customer, f"{month:%Y-%m}",
                        outcome.message)  # fmt: skip
    return counts
