"""Twilio: daily cost and messages sent from the Usage Records API.

Usage categories are roll-ups of one another (`totalprice` contains `sms`, which contains
`sms-outbound`...), so the cost is read from `totalprice` alone; summing categories would
count the same money several times.
https://www.twilio.com/docs/usage/api/usage-record
"""

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings

from collectors.base import Collector, CollectResult, ConnectionProbe, SyncWindow
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require
from costledger.models import CostEntry, MetricSample, Source
from costledger.money import is_currency
from costledger.providers import Category
from costledger.services import cost_entries_replace_days, metric_samples_upsert

MESSAGE_CATEGORIES = ("sms-outbound", "mms-outbound")


class TwilioCollector(Collector):
    name = "twilio"
    provider_name = "Twilio"
    required_settings = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    optional_settings = ("TWILIO_API_URL",)
    address_settings = ("TWILIO_API_URL",)

    def provider_http(self, **options) -> ProviderHTTP:
        return ProviderHTTP(
            "Twilio",
            settings.TWILIO_API_URL,
            auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
            **options,
        )

    def connection_probe(self) -> ConnectionProbe:
        # The account itself (Accounts/{sid}.json): the smallest read the SID and token allow.
        return ConnectionProbe(
            f"/2010-04-01/Accounts/{quote(settings.TWILIO_ACCOUNT_SID, safe='')}.json",
            expect="status",
            shown="GET /2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}.json",
        )

    def collect(self, window: SyncWindow) -> CollectResult:
        self.http = self.provider_http()
        costs = self._daily_records("totalprice", window)
        entries = [self._cost_entry(day, record) for day, record in costs.items()]
        sent: dict[date, Decimal] = {day: Decimal(0) for day in window.days()}
        for category in MESSAGE_CATEGORIES:
            for day, record in self._daily_records(category, window).items():
                sent[day] += decimal_of(record.get("count") or 0, field="count", provider="Twilio")
        samples = [
            MetricSample(
                provider="twilio",
                metric="messages_sent",
                day=day,
                value=count,
                unit="messages",
                sync_run_id=self.sync_run_id,
            )
            for day, count in sent.items()
        ]
        rows = cost_entries_replace_days(
            start=window.start,
            end=window.end,
            entries=entries,
            provider="twilio",
            source=Source.API,
        )
        rows += metric_samples_upsert(samples=samples)
        return CollectResult(
            rows_written=rows,
            figures={
                "cost": sum((e.billed_cost for e in entries), Decimal(0)),
                "currency": entries[0].currency if entries else "",
                "messages_sent": sum(sent.values()),
            },
        )

    def _daily_records(self, category: str, window: SyncWindow) -> dict[date, dict]:
        """The category's daily records in the window, following next_page_uri."""
        sid = settings.TWILIO_ACCOUNT_SID
        path = f"/2010-04-01/Accounts/{sid}/Usage/Records/Daily.json"
        params = {
            "Category": category,
            "StartDate": window.start.isoformat(),
            "EndDate": (window.end - timedelta(days=1)).isoformat(),
            "PageSize": 100,
        }
        records: dict[date, dict] = {}
        for page in self.http.pages(path, params=params, next_page=_next_page_uri):
            for record in require(page, "usage_records", provider="Twilio"):
                day = _date(require(record, "start_date", provider="Twilio"))
                if record.get("category") == category and window.start <= day < window.end:
                    records[day] = record
        return records

    def _cost_entry(self, day: date, record: dict) -> CostEntry:
        currency = str(require(record, "price_unit", provider="Twilio")).upper()
        if not is_currency(currency):
            raise UnexpectedResponse(f"Twilio answered price_unit={currency!r}, not a currency")
        return CostEntry(
            provider="twilio",
            service="totalprice",
            category=Category.COMMUNICATIONS,
            charge_period_start=day,
            charge_period_end=day + timedelta(days=1),
            billed_cost=decimal_of(record.get("price"), field="price", provider="Twilio"),
            currency=currency,
            source=Source.API,
            sync_run_id=self.sync_run_id,
            raw={
                k: record.get(k) for k in ("category", "start_date", "end_date", "price", "as_of")
            },
        )


def _next_page_uri(page: dict) -> str | None:
    return page.get("next_page_uri")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise UnexpectedResponse(f"Twilio answered start_date={value!r}, not a date") from None
