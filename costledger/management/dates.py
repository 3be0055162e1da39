"""Dates given to management commands on the command line."""

import re
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


def command_month(value: str, option: str) -> date:
    """The first day of the calendar month an option names as YYYY-MM, or a CommandError."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", value) or not 1 <= int(value[5:]) <= 12:
        raise CommandError(f"{option} {value[:40]!r} is not a month; use YYYY-MM, e.g. 2026-11.")
    return command_date(f"{value}-01", option)
