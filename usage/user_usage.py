"""One user's LLM usage over a range, for the per-user report: totals, per day, per provider and
model, per tag, and the requests left unpriced.

Only that user's rows of the sums are read, never raw events: the per-day sums hold one row per
(day, user, provider, model), found with one probe per day in their unique index (day first,
then user: PostgreSQL 15 has no skip scan, so a range of days with a user would read every
user's rows of the range). A year of one user's usage is a few hundred index probes and a few
thousand rows, whatever the number of users. The same days count as everywhere else
(usage.effective: a day's events, else its Prometheus rows), so the user's figures add up to
what the top users and the Business summary show for them.

A cost is None when nothing of the user's usage was costed in USD: unpriced usage is never
costed at 0, and `unpriced_requests` says how much the cost leaves out.
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from costledger.days import days_between
from usage.effective import LLM_CURRENCY, day_sources, effective_rows_on, usd_cost
from usage.models import (
    LlmUsageDaily,
    LlmUsageUserLatest,
    LlmUsageUserTagDaily,
    UsageUser,
)
from usage.sums import COUNTED, NOT_PER_USER_TAG, TOKEN_KINDS

USER_ID_MAX_LENGTH = LlmUsageDaily._meta.get_field("user_id").max_length
COUNTED_NAMES = tuple(c.name for c in COUNTED if c.name != "latency_ms_sum")
USERS_PER_STATEMENT = 20_000


@dataclass(frozen=True)
class UsageCounts:
    """What a group of a user's usage adds up to. `cost` is in USD, None when nothing in the
    group was costed."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    unpriced_requests: int = 0
    images: int = 0
    stream_duration_ms: int = 0
    bandwidth_bytes: int = 0
    search_units: int = 0
    cost: Decimal | None = None

    @property
    def tokens(self) -> int:
        """Every kind of token added up (they are disjoint: none is inside another)."""
        return sum(getattr(self, kind) for kind in TOKEN_KINDS)

    def __add__(self, other: "UsageCounts") -> "UsageCounts":
        counts = {name: getattr(self, name) + getattr(other, name) for name in COUNTED_NAMES}
        costs = [c for c in (self.cost, other.cost) if c is not None]
        return UsageCounts(**counts, cost=sum(costs, Decimal(0)) if costs else None)


@dataclass(frozen=True)
class UserDayUsage:
    day: date
    counts: UsageCounts


@dataclass(frozen=True)
class UserModelUsage:
    provider: str
    model: str
    counts: UsageCounts


@dataclass(frozen=True)
class UserTagUsage:
    key: str  # agent, feature (the keys of LLM_TAG_KEYS but conversation_id)
    value: str
    requests: int
    cost: Decimal  # USD, of the priced requests among them
    unpriced_requests: int


@dataclass(frozen=True)
class UserUnpricedModel:
    provider: str
    model: str
    requests: int  # the user's requests of this model left uncosted
    first_day: date
    last_day: date


@dataclass(frozen=True)
class LlmUserUsage:
    user_id: str
    email: str | None  # None: not known from Supabase auth
    start: date
    end: date
    totals: UsageCounts
    days: list[UserDayUsage]  # every day of the range, oldest first, zeros included
    models: list[UserModelUsage]  # dearest first
    tags: list[UserTagUsage]  # by key, dearest first
    unpriced: list[UserUnpricedModel]  # most unpriced requests first

    @property
    def providers(self) -> list[UserModelUsage]:
        """The models summed per provider (model ""), dearest first."""
        by_provider: dict[str, UsageCounts] = defaultdict(UsageCounts)
        for row in self.models:
            by_provider[row.provider] += row.counts
        return _dearest_first(
            [UserModelUsage(provider, "", counts) for provider, counts in by_provider.items()]
        )


def llm_user_known(*, user_id: str) -> bool:
    """Whether Supabase auth knows `user_id`, or it ever had ingested usage: two primary-key
    lookups. A user known only from Prometheus rows, or "" (the usage sent without a user id),
    is known by their usage of a range instead: finding whether they have any row at all would
    read the whole per-user index (it is day first)."""
    if not user_id or len(user_id) > USER_ID_MAX_LENGTH:
        return False
    return (
        UsageUser.objects.filter(user_id=user_id).exists()
        or LlmUsageUserLatest.objects.filter(user_id=user_id).exists()
    )


def llm_user_email(*, user_id: str) -> str | None:
    email = (
        UsageUser.objects.filter(user_id=user_id).exclude(email="").values_list("email", flat=True)
    )
    return email.first()


def llm_user_usage(*, user_id: str, start: date, end: date) -> LlmUserUsage:
    """`user_id`'s usage over the UTC days [start, end]: totals, each day, each model, each tag
    value and the unpriced requests per model."""
    sources = day_sources(start=start, end=end) if start <= end else []
    rows = _user_rows(user_id=user_id, sources=sources)
    by_day = _grouped(rows, lambda row: row["day"])
    by_model = _grouped(rows, lambda row: (row["provider"], row["model"]))
    unpriced_days: dict[tuple[str, str], list[date]] = defaultdict(list)
    for row in rows:
        if row["unpriced_requests"]:
            unpriced_days[(row["provider"], row["model"])].append(row["day"])
    days = [UserDayUsage(day, _settled(by_day.get(day, UsageCounts()))) for day, _ in sources]
    models = [UserModelUsage(p, m, counts) for (p, m), counts in by_model.items()]
    return LlmUserUsage(
        user_id=user_id,
        email=llm_user_email(user_id=user_id),
        start=start,
        end=end,
        totals=_settled(sum((d.counts for d in days), UsageCounts())),
        days=days,
        models=_dearest_first(models),
        tags=llm_user_tags(user_id=user_id, start=start, end=end),
        unpriced=_unpriced(by_model, unpriced_days),
    )


def llm_user_totals(*, user_id: str, start: date, end: date) -> UsageCounts:
    """`user_id`'s usage over [start, end] added up (what a comparison period needs)."""
    sources = day_sources(start=start, end=end) if start <= end else []
    rows = _user_rows(user_id=user_id, sources=sources)
    return _settled(_grouped(rows, lambda row: None).get(None, UsageCounts()))


def llm_user_tags(*, user_id: str, start: date, end: date) -> list[UserTagUsage]:
    """`user_id`'s ingested requests per tag value over [start, end], by key, dearest first.
    From the per-user tag sums: tags come with ingested events only."""
    if len(user_id) > USER_ID_MAX_LENGTH or end < start:
        return []
    rows = (
        LlmUsageUserTagDaily.objects.filter(day__in=days_between(start, end), user_id=user_id)
        .exclude(key=NOT_PER_USER_TAG)
        .values("key", "value")
        .annotate(
            requests_sum=Sum("requests"),
            cost_sum=Sum("cost"),
            unpriced_sum=Sum("unpriced_requests"),
        )
        .order_by("key", "-cost_sum", "-requests_sum", "value")
    )
    return [
        UserTagUsage(r["key"], r["value"], r["requests_sum"], r["cost_sum"], r["unpriced_sum"])
        for r in rows
    ]


def llm_usage_of_users(
    *, user_ids: Collection[str], start: date, end: date
) -> dict[tuple[str, str, str], UsageCounts]:
    """The usage of each of `user_ids` over [start, end], per (user, provider, model): what
    customer invoices count (billing). One grouped statement over the per-day sums, never raw
    events; the same days count as everywhere else (usage.effective). Users without usage are
    absent; a cost is None when none of a group's usage was costed in USD."""
    user_ids = [u for u in user_ids if len(u) <= USER_ID_MAX_LENGTH]
    sources = day_sources(start=start, end=end)
    if not user_ids or not sources:
        return {}
    usage = {}
    # In chunks: a statement holds at most 65,535 parameters.
    for first in range(0, len(user_ids), USERS_PER_STATEMENT):
        rows = (
            effective_rows_on(LlmUsageDaily, sources)
            .filter(user_id__in=user_ids[first : first + USERS_PER_STATEMENT])
            .values("user_id", "provider", "model")
            .annotate(**{n: Sum(n) for n in COUNTED_NAMES}, usd=usd_cost(LlmUsageDaily))
            .order_by()
        )
        for row in rows:
            counts = UsageCounts(**{n: row[n] for n in COUNTED_NAMES}, cost=row["usd"])
            usage[row["user_id"], row["provider"], row["model"]] = counts
    return usage


def _user_rows(*, user_id: str, sources: list[tuple[date, str]]) -> list[dict]:
    """The user's per-day sums that count on these days, one per (day, provider, model).
    `day IN (every day)` rather than a range: one index probe per day (see the module)."""
    if len(user_id) > USER_ID_MAX_LENGTH or not sources:
        return []
    return list(
        effective_rows_on(LlmUsageDaily, sources)
        .filter(day__in=[day for day, _ in sources], user_id=user_id)
        .values("day", "provider", "model", "cost", "currency", *COUNTED_NAMES)
        .order_by("day", "provider", "model")
    )


def _grouped(rows: list[dict], key) -> dict:
    """The rows added up per `key(row)`: plain sums first, one UsageCounts per group at the end
    (a year of a user's rows is a few thousand; dataclasses added one by one cost more than the
    query). A cost in another currency than the sums' (a Prometheus feed configured with one)
    is left out, as every usage selector does (usage.effective.usd_cost)."""
    counts: dict = {}
    costs: dict = {}
    for row in rows:
        group = key(row)
        sums = counts.get(group)
        if sums is None:
            sums = counts[group] = [0] * len(COUNTED_NAMES)
            costs[group] = None
        for i, name in enumerate(COUNTED_NAMES):
            sums[i] += row[name]
        if row["cost"] is not None and row["currency"] == LLM_CURRENCY:
            costs[group] = row["cost"] if costs[group] is None else costs[group] + row["cost"]
    return {
        group: UsageCounts(**dict(zip(COUNTED_NAMES, sums, strict=True)), cost=costs[group])
        for group, sums in counts.items()
    }


def _settled(counts: UsageCounts) -> UsageCounts:
    """No request costs 0; a cost is unknown (None) only for requests none of which was costed."""
    if counts.cost is None and counts.requests == 0:
        return replace(counts, cost=Decimal(0))
    return counts


def _dearest_first(rows: list[UserModelUsage]) -> list[UserModelUsage]:
    """Dearest first; what was never costed after every costed row; then by requests, name."""
    return sorted(
        rows,
        key=lambda r: (
            r.counts.cost is None,
            -(r.counts.cost or 0),
            -r.counts.requests,
            r.provider,
            r.model,
        ),
    )


def _unpriced(
    by_model: dict[tuple[str, str], UsageCounts], days: dict[tuple[str, str], list[date]]
) -> list[UserUnpricedModel]:
    rows = [
        UserUnpricedModel(provider, model, counts.unpriced_requests, min(seen), max(seen))
        for (provider, model), counts in by_model.items()
        if (seen := days.get((provider, model)))
    ]
    return sorted(rows, key=lambda r: (-r.requests, r.provider, r.model))
