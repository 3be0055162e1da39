"""What LLM providers' daily cost reports have in common, for the collectors that read one.

OpenAI's Costs API and Anthropic's cost report answer the same shape: pages of one bucket per
UTC day, each holding results grouped by a billed line item, followed through `has_more` /
`next_page`. DailyCostReportCollector reads every page of the window, writes one CostEntry
(source `api`) per day and line item, and refuses to add amounts in different currencies. Each
provider's module says where its API's shape comes from and fills in the hooks: how to connect,
the path and query of a window, the day of a bucket, and the line item, amount, tags and raw
excerpt of a result.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar
from urllib.parse import urlencode

from collectors.base import Collector, CollectResult, SyncWindow
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, require
from costledger.models import CostEntry, Source
from costledger.providers import Category
from costledger.services import cost_entries_replace_days


class DailyCostReportCollector(Collector):
    """Subclasses set `provider` (the ledger's slug) and `report_path`, and the hooks below."""

    provider: ClassVar[str]
    report_path: ClassVar[str]

    def provider_http(self) -> ProviderHTTP:
        raise NotImplementedError

    def window_params(self, window: SyncWindow) -> dict:
        """The query asking for the window's daily buckets, grouped by line item."""
        raise NotImplementedError

    def bucket_day(self, bucket: dict) -> date:
        raise NotImplementedError

    def result_item(self, result: dict) -> str:
        """The line item a result is billed under."""
        raise NotImplementedError

    def result_amount(self, result: dict) -> tuple[Decimal, str]:
        """The result's amount in the currency's major unit, and the currency."""
        raise NotImplementedError

    def result_excerpt(self, result: dict) -> dict:
        """What of a result is kept in the entry's `raw`."""
        raise NotImplementedError

    def line_tags(self, results: list[dict]) -> dict:
        return {}

    def collect(self, window: SyncWindow) -> CollectResult:
        self.http = self.provider_http()
        lines = self._line_items(window)
        entries = [self._cost_entry(day, item, results) for (day, item), results in lines.items()]
        cost, currency = self._total(entries)
        rows = cost_entries_replace_days(
            start=window.start,
            end=window.end,
            entries=entries,
            provider=self.provider,
            source=Source.API,
        )
        return CollectResult(
            rows_written=rows,
            figures={"cost": cost, "currency": currency, "line_items": len(entries)},
        )

    def _line_items(self, window: SyncWindow) -> dict[tuple[date, str], list[dict]]:
        """The window's cost results by (day, line item), across all pages."""
        name, path = self.provider_name, self.report_path
        params = self.window_params(window)

        def next_page(page: dict) -> str | None:
            if not require(page, "has_more", provider=name):
                return None
            cursor = require(page, "next_page", provider=name)
            if not cursor:
                raise UnexpectedResponse(f"{name} answered has_more without a next_page")
            return f"{path}?{urlencode({**params, 'page': cursor})}"

        lines: dict[tuple[date, str], list[dict]] = defaultdict(list)
        for page in self.http.pages(path, params=params, next_page=next_page):
            for bucket in require(page, "data", provider=name):
                day = self.bucket_day(bucket)
                if not window.start <= day < window.end:
                    continue
                for result in require(bucket, "results", provider=name):
                    require(result, "amount", provider=name)
                    lines[(day, self.result_item(result))].append(result)
        return lines

    def _cost_entry(self, day: date, item: str, results: list[dict]) -> CostEntry:
        amounts = [self.result_amount(result) for result in results]
        currencies = sorted({currency for _, currency in amounts})
        if len(currencies) > 1:
            raise UnexpectedResponse(
                f"{self.provider_name} answered {item!r} on {day} in several currencies "
                f"({', '.join(currencies)}); they cannot be added"
            )
        return CostEntry(
            provider=self.provider,
            service=item,
            category=Category.LLM,
            charge_period_start=day,
            charge_period_end=day + timedelta(days=1),
            billed_cost=sum((value for value, _ in amounts), Decimal(0)),
            currency=currencies[0],
            source=Source.API,
            tags=self.line_tags(results),
            sync_run_id=self.sync_run_id,
            raw={"results": [self.result_excerpt(result) for result in results]},
        )

    def _total(self, entries: list[CostEntry]) -> tuple[Decimal, str]:
        currencies = sorted({entry.currency for entry in entries})
        if len(currencies) > 1:
            raise UnexpectedResponse(
                f"{self.provider_name} answered costs in several currencies "
                f"({', '.join(currencies)})"
            )
        total = sum((entry.billed_cost for entry in entries), Decimal(0))
        return total, currencies[0] if currencies else ""
