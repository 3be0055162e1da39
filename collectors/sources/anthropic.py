"""Anthropic: what the organisation was billed per day and line item, from the Admin API's
cost report.

GET /v1/organizations/cost_report (admin key) answers one bucket per UTC day
(`bucket_width=1d`); grouped by `description`, each result is one billed line ("Claude Opus 5
Usage - Input Tokens", "Web Search Usage") with its model, cost and token type. `amount` is a
decimal string in the currency's lowest unit: "123.45" USD is 123.45 cents, $1.2345. It is
converted exactly (a shift of the decimal point, never float). Pages are followed through
`has_more` / `next_page`.
https://docs.anthropic.com/en/api/admin-api/usage-cost/get-cost-report
"""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings

from collectors.base import Collector, CollectResult, SyncWindow
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require
from costledger.models import CostEntry, Source
from costledger.money import is_currency, minor_unit
from costledger.providers import Category
from costledger.services import cost_entries_replace

PROVIDER = "Anthropic"
API_VERSION = "2023-06-01"
REPORT_PATH = "/v1/organizations/cost_report"
MAX_BUCKETS = 31  # the largest `limit` the cost report accepts for 1d buckets
NO_DESCRIPTION = "(no description)"
# Labels of a result kept as tags when every result of the line item agrees on them.
TAG_FIELDS = ("model", "cost_type", "token_type", "service_tier", "context_window")


class AnthropicCollector(Collector):
    name = "anthropic"
    provider_name = PROVIDER
    required_settings = ("ANTHROPIC_ADMIN_KEY",)

    def collect(self, window: SyncWindow) -> CollectResult:
        self.http = ProviderHTTP(
            PROVIDER,
            settings.ANTHROPIC_API_URL,
            headers={"x-api-key": settings.ANTHROPIC_ADMIN_KEY, "anthropic-version": API_VERSION},
        )
        lines = self._line_items(window)
        entries = [self._cost_entry(day, item, results) for (day, item), results in lines.items()]
        cost, currency = _total(entries)
        rows = cost_entries_replace(
            scope={
                "provider": "anthropic",
                "source": Source.API,
                "charge_period_start__gte": window.start,
                "charge_period_start__lt": window.end,
            },
            entries=entries,
        )
        return CollectResult(
            rows_written=rows,
            figures={"cost": cost, "currency": currency, "line_items": len(entries)},
        )

    def _line_items(self, window: SyncWindow) -> dict[tuple[date, str], list[dict]]:
        """The window's cost results by (day, description), across all pages."""
        params = {
            "starting_at": _rfc3339(window.start),
            "ending_at": _rfc3339(window.end),
            "bucket_width": "1d",
            "group_by[]": "description",
            "limit": min(len(window.days()), MAX_BUCKETS),
        }

        def next_page(page: dict) -> str | None:
            if not require(page, "has_more", provider=PROVIDER):
                return None
            cursor = require(page, "next_page", provider=PROVIDER)
            if not cursor:
                raise UnexpectedResponse(f"{PROVIDER} answered has_more without a next_page")
            return f"{REPORT_PATH}?{urlencode({**params, 'page': cursor})}"

        lines: dict[tuple[date, str], list[dict]] = defaultdict(list)
        for page in self.http.pages(REPORT_PATH, params=params, next_page=next_page):
            for bucket in require(page, "data", provider=PROVIDER):
                day = _day(require(bucket, "starting_at", provider=PROVIDER))
                if not window.start <= day < window.end:
                    continue
                for result in require(bucket, "results", provider=PROVIDER):
                    require(result, "amount", provider=PROVIDER)
                    item = result.get("description") or NO_DESCRIPTION
                    lines[(day, item)].append(result)
        return lines

    def _cost_entry(self, day: date, item: str, results: list[dict]) -> CostEntry:
        amounts = [_amount(result) for result in results]
        currencies = sorted({currency for _, currency in amounts})
        if len(currencies) > 1:
            raise UnexpectedResponse(
                f"{PROVIDER} answered {item!r} on {day} in several currencies "
                f"({', '.join(currencies)}); they cannot be added"
            )
        return CostEntry(
            provider="anthropic",
            service=item,
            category=Category.LLM,
            charge_period_start=day,
            charge_period_end=day + timedelta(days=1),
            billed_cost=sum((value for value, _ in amounts), Decimal(0)),
            currency=currencies[0],
            source=Source.API,
            tags=_common_labels(results),
            sync_run_id=self.sync_run_id,
            raw={"results": [_excerpt(result) for result in results]},
        )


def _amount(result: dict) -> tuple[Decimal, str]:
    """The result's amount in the currency's major unit: the API answers its lowest unit."""
    currency = str(require(result, "currency", provider=PROVIDER)).upper()
    if not is_currency(currency):
        raise UnexpectedResponse(f"{PROVIDER} answered currency={currency!r}")
    lowest_unit = decimal_of(result["amount"], field="amount", provider=PROVIDER)
    if not lowest_unit.is_finite():
        raise UnexpectedResponse(f"{PROVIDER} answered amount={result['amount']!r}, not a number")
    return lowest_unit.scaleb(-minor_unit(currency)), currency


def _common_labels(results: list[dict]) -> dict:
    labels = {}
    for field in TAG_FIELDS:
        values = {result.get(field) for result in results}
        if len(values) == 1 and None not in values:
            labels[field] = values.pop()
    return labels


def _excerpt(result: dict) -> dict:
    return {key: result.get(key) for key in ("amount", "currency", "description", *TAG_FIELDS)}


def _total(entries: list[CostEntry]) -> tuple[Decimal, str]:
    currencies = sorted({entry.currency for entry in entries})
    if len(currencies) > 1:
        raise UnexpectedResponse(
            f"{PROVIDER} answered costs in several currencies ({', '.join(currencies)})"
        )
    total = sum((entry.billed_cost for entry in entries), Decimal(0))
    return total, currencies[0] if currencies else ""


def _rfc3339(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _day(starting_at) -> date:
    try:
        moment = datetime.fromisoformat(starting_at)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UnexpectedResponse(
            f"{PROVIDER} answered starting_at={starting_at!r}, not an RFC 3339 time"
        )
    return moment.astimezone(UTC).date()
