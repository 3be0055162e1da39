"""Closing a month: once a calendar month (UTC) is over, its per-user sums are added up into
LlmUsageUserMonthly (usage.sums.MONTH_CLOSE), and from then on the trigger on LlmUsageDaily
keeps them as its days change. The month in progress has none, so ingest, which writes there,
pays nothing for them. Beat runs this daily; running it again changes nothing."""

from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from costledger.days import add_months, month_start
from usage import sums
from usage.models import LlmUsageClosedMonth

MONTHS_WITH_USAGE = (
    "SELECT DISTINCT date_trunc('month', day)::date AS month "
    "FROM costledger_llmusagemodeldaily WHERE day < %s "
    "EXCEPT SELECT month FROM costledger_llmusageclosedmonth ORDER BY month"
)


def llm_usage_months_close(*, today: date | None = None) -> list[date]:
    """Add up every month before this one (UTC) that has usage and is not closed yet; the
    months closed. PostgreSQL only: the quick start reads the days."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(MONTHS_WITH_USAGE, [month_start(today or timezone.now().date())])
        months = [month for (month,) in cursor.fetchall()]
    return [month for month in months if _month_close(month)]


@transaction.atomic
def _month_close(month: date) -> bool:
    """Sum the month's days and mark it closed, with no writer of the daily sums in between:
    a batch committed between the two would be in neither. SHARE ROW EXCLUSIVE: writers wait
    (a second or so at 10 million events), readers do not; a second closer waits too, then
    finds the month closed."""
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {sums.DAILY} IN SHARE ROW EXCLUSIVE MODE")
        if LlmUsageClosedMonth.objects.filter(month=month).exists():
            return False
        cursor.execute(sums.MONTH_CLOSE, {"month": month, "next_month": add_months(month, 1)})
    LlmUsageClosedMonth.objects.create(month=month)
    return True
