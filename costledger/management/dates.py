"""Dates given to management commands on the command line."""

from datetime import date

from django.core.management.base import CommandError


def command_date(value: str, option: str) -> date:
    """The UTC day an option names as YYYY-MM-DD, or a CommandError saying how to write it."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"{option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-20."
        ) from None
