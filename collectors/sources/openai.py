"""OpenAI: what the organisation was billed per day and line item, from the Costs API.

GET /v1/organization/costs (admin key) answers one bucket per UTC day (`bucket_width=1d`);
grouped by `line_item`, each result is one billed line ("gpt-4o-2024-08-06, input", "Image
models") with `amount.value` in dollars as a JSON number. ProviderHTTP reads JSON numbers as
Decimal, so 0.06 stays exactly 0.06. Pages are followed through `has_more` / `next_page`.
https://platform.openai.com/docs/api-reference/usage/costs
"""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings

from collectors.base import Collector, CollectResult, SyncWindow
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require
from costledger.models import CostEntry, Source
from costledger.money import is_currency
from costledger.providers import Category
from costledger.services import cost_entries_replace

PROVIDER = "OpenAI"
COSTS_PATH = "/v1/organization/costs"
MAX_BUCKETS = 180  # the largest `limit` the Costs API accepts
NO_LINE_ITEM = "(no line item)"  # a result the API did not attribute to a line item


class OpenAICollector(Collector):
    name = "openai"
    provider_name = PROVIDER
    required_settings = ("OPENAI_ADMIN_KEY",)

    def collect(self, window: SyncWindow) -> CollectResult:
        self.http = ProviderHTTP(
            PROVIDER,
            settings.OPENAI_API_URL,
            headers={"Authorization": f"Bearer {settings.OPENAI_ADMIN_KEY}"},
        )
        lines = self._line_items(window)
        entries = [self._cost_entry(day, item, results) for (day, item), results in lines.items()]
        cost, currency = _total(entries)
        rows = cost_entries_replace(
            scope={
                "provider": "openai",
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
        """The window's cost results by (day, line item), across all pages."""
        params = {
            "start_time": _unix(window.start),
            "end_time": _unix(window.end),
            "bucket_width": "1d",
            "group_by": "line_item",
            "limit": min(len(window.days()), MAX_BUCKETS),
        }

        def next_page(page: dict) -> str | None:
            if not require(page, "has_more", provider=PROVIDER):
                return None
            cursor = require(page, "next_page", provider=PROVIDER)
            if not cursor:
                raise UnexpectedResponse(f"{PROVIDER} answered has_more without a next_page")
            return f"{COSTS_PATH}?{urlencode({**params, 'page': cursor})}"

        lines: dict[tuple[date, str], list[dict]] = defaultdict(list)
        for page in self.http.pages(COSTS_PATH, params=params, next_page=next_page):
            for bucket in require(page, "data", provider=PROVIDER):
                day = _day(require(bucket, "start_time", provider=PROVIDER))
                if not window.start <= day < window.end:
                    continue
                for result in require(bucket, "results", provider=PROVIDER):
                    require(result, "amount", provider=PROVIDER)
                    item = result.get("line_item") or NO_LINE_ITEM
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
            provider="openai",
            service=item,
            category=Category.LLM,
            charge_period_start=day,
            charge_period_end=day + timedelta(days=1),
            billed_cost=sum((value for value, _ in amounts), Decimal(0)),
            currency=currencies[0],
            source=Source.API,
            sync_run_id=self.sync_run_id,
            raw={"results": [_excerpt(result) for result in results]},
        )


def _amount(result: dict) -> tuple[Decimal, str]:
    value = require(result, "amount", "value", provider=PROVIDER)
    currency = str(require(result, "amount", "currency", provider=PROVIDER)).upper()
    if not is_currency(currency):
        raise UnexpectedResponse(f"{PROVIDER} answered amount.currency={currency!r}")
    amount = decimal_of(value, field="amount.value", provider=PROVIDER)
    if not amount.is_finite():
        raise UnexpectedResponse(f"{PROVIDER} answered amount.value={value!r}, not a number")
    return amount, currency


def _excerpt(result: dict) -> dict:
    amount = result["amount"]
    return {
        "amount": {"value": str(amount["value"]), "currency": amount["currency"]},
        "line_item": result.get("line_item"),
        "project_id": result.get("project_id"),
    }


def _total(entries: list[CostEntry]) -> tuple[Decimal, str]:
    currencies = sorted({entry.currency for entry in entries})
    if len(currencies) > 1:
        raise UnexpectedResponse(
            f"{PROVIDER} answered costs in several currencies ({', '.join(currencies)})"
        )
    total = sum((entry.billed_cost for entry in entries), Decimal(0))
    return total, currencies[0] if currencies else ""


def _unix(day: date) -> int:
    return int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())


def _day(start_time) -> date:
    if not isinstance(start_time, int) or isinstance(start_time, bool):
        raise UnexpectedResponse(f"{PROVIDER} answered start_time={start_time!r}, not a Unix time")
    return datetime.fromtimestamp(start_time, tz=UTC).date()
