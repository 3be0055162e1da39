"""A report as tables: what its CSV and XLSX downloads write. Each report builds its tables from
the same figures its page shows, so a download can never disagree with the page.

Values are the exact figures (Decimal, int, date, str or None), never text made to look like a
number: the XLSX writer stores numbers and dates as such."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

Value = Decimal | int | date | str | None


@dataclass(frozen=True)
class Table:
    name: str  # a slug: the CSV's file name part and the XLSX sheet's name
    title: str  # what a person reads above it
    headers: list[str]
    rows: list[tuple[Value, ...]] = field(default_factory=list)
    note: str = ""  # what the figures are (currency, period), printed above the header
