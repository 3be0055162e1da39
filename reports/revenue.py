"""Revenue accrued from MRR, day by day, in the reporting currency."""

import calendar
from bisect import bisect_right
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from costledger.models import RevenueSnapshot
from costledger.selectors import MissingRate, _Rates


class RevenueSeries:
    """Daily MRR in the reporting currency (each currency's latest snapshot on or before the
    day, converted at that day's rate) and the revenue each day accrues from it."""

    def __init__(self, *, start: date, end: date, reporting: str):
        self.points: dict[str, tuple[list[date], list[Decimal]]] = {}
        self.subscriptions: dict[date, int] = defaultdict(int)
        # (currency, day) -> (new MRR, churned MRR) that day, in the snapshot's currency
        self.movements: dict[tuple[str, date], tuple[Decimal, Decimal]] = {}
        # Every snapshot up to `end`, in one query: the one in force on `start` may be older
        # than the range. (Daily rows per currency: a few thousand for years of history.)
        series: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
        for currency, day, mrr, active, new, churned in (
            RevenueSnapshot.objects.filter(day__lte=end)
            .order_by("day")
            .values_list("currency", "day", "mrr", "active_subscriptions", "new_mrr", "churned_mrr")
        ):
            series[currency].append((day, mrr))
            self.subscriptions[day] += active
            self.movements[(currency, day)] = (new, churned)
        for currency, points in series.items():
            self.points[currency] = ([d for d, _ in points], [m for _, m in points])
        # The first day with an MRR snapshot: revenue before it is unknown, not zero.
        self.first_day = min((days[0] for days, _ in self.points.values()), default=None)
        self.rates = _Rates(
            currencies=set(self.points), until=end + timedelta(days=1), reporting=reporting
        )
        self.missing: dict[str, list[date]] = defaultdict(list)

    @property
    def known(self) -> bool:
        return bool(self.points)

    def active_subscriptions(self, day: date) -> int | None:
        """Active subscriptions on the latest snapshot day on or before `day`."""
        days = sorted(d for d in self.subscriptions if d <= day)
        return self.subscriptions[days[-1]] if days else None

    def mrr(self, day: date) -> Decimal | None:
        """MRR in force on `day`; None before the first snapshot (unknown, not zero)."""
        first = self.first_day
        if first is None or day < first:
            return None
        total = Decimal(0)
        for currency, (days, values) in self.points.items():
            index = bisect_right(days, day)
            if not index:
                continue
            rate = self.rates.rate(currency, day)
            if rate is None:
                self.missing[currency].append(day)
                continue
            total += values[index - 1] * rate
        return total

    def movement(self, day: date) -> tuple[Decimal, Decimal] | None:
        """(new MRR, churned MRR) of `day`, converted; None before the first snapshot."""
        first = self.first_day
        if first is None or day < first:
            return None
        new = churned = Decimal(0)
        for currency in self.points:
            found = self.movements.get((currency, day))
            rate = found and self.rates.rate(currency, day)
            if found and rate is None:
                self.missing[currency].append(day)
            elif found:
                new += found[0] * rate
                churned += found[1] * rate
        return new, churned

    def missing_rates(self) -> list[MissingRate]:
        return [
            MissingRate(currency=c, first_day=min(days), last_day=max(days))
            for c, days in self.missing.items()
        ]

    def accrued(self, day: date) -> Decimal | None:
        mrr = self.mrr(day)
        return None if mrr is None else mrr / calendar.monthrange(day.year, day.month)[1]
