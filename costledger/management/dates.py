"""Dates given to management commands on the command line."""

from datetime import date

from django.core.management.base import CommandError

from costledger.validators import EARLIEST_DAY, LATEST_DAY


def command_date(value: str, option: str) -> date:
    """The UTC day an option names as YYYY-MM-DD, or a CommandError saying how to write it."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"{option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-20."
        ) from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise CommandError(
            f"{option} {day} is outside the days the ledger keeps ({EARLIEST_DAY} to "
            f"{LATEST_DAY}): check the year."
        )
    return day
