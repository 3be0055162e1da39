"""OpenAI: what the organisation was billed per day and line item, from the Costs API.

GET /v1/organization/costs (admin key) answers one bucket per UTC day (`bucket_width=1d`);
grouped by `line_item`, each result is one billed line ("gpt-4o-2024-08-06, input", "Image
models") with `amount.value` in dollars as a JSON number. ProviderHTTP reads JSON numbers as
Decimal, so 0.06 stays exactly 0.06. Pages are followed through `has_more` / `next_page`
(the paging and the entries are cost_reports.DailyCostReportCollector's).
https://platform.openai.com/docs/api-reference/usage/costs
"""

from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from collectors.base import ConnectionProbe, SyncWindow
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require
from collectors.sources.cost_reports import DailyCostReportCollector
from costledger.days import unix_start
from costledger.money import is_currency

PROVIDER = "OpenAI"
COSTS_PATH = "/v1/organization/costs"
MAX_BUCKETS = 180  # the largest `limit` the Costs API accepts
NO_LINE_ITEM = "(no line item)"  # a result the API did not attribute to a line item


class OpenAICollector(DailyCostReportCollector):
    name = "openai"
    provider = "openai"
    provider_name = PROVIDER
    required_settings = ("OPENAI_ADMIN_KEY",)
    optional_settings = ("OPENAI_API_URL",)
    address_settings = ("OPENAI_API_URL",)
    report_path = COSTS_PATH

    def provider_http(self, **options) -> ProviderHTTP:
        return ProviderHTTP(
            PROVIDER,
            settings.OPENAI_API_URL,
            headers={"Authorization": f"Bearer {settings.OPENAI_ADMIN_KEY}"},
            **options,
        )

    def connection_probe(self) -> ConnectionProbe:
        # One daily bucket of the Costs API the collector reads: an admin key passes, an
        # ordinary project key is refused as it would be by the sync.
        today = timezone.now().date()
        return ConnectionProbe(
            COSTS_PATH, expect="data", params={"start_time": unix_start(today), "limit": 1}
        )

    def window_params(self, window: SyncWindow) -> dict:
        return {
            "start_time": unix_start(window.start),
            "end_time": unix_start(window.end),
            "bucket_width": "1d",
            "group_by": "line_item",
            "limit": min(len(window.days()), MAX_BUCKETS),
        }

    def bucket_day(self, bucket: dict) -> date:
        start_time = require(bucket, "start_time", provider=PROVIDER)
        if not isinstance(start_time, int) or isinstance(start_time, bool):
            raise UnexpectedResponse(
                f"{PROVIDER} answered start_time={start_time!r}, not a Unix time"
            )
        return datetime.fromtimestamp(start_time, tz=UTC).date()

    def result_item(self, result: dict) -> str:
        return result.get("line_item") or NO_LINE_ITEM

    def result_amount(self, result: dict) -> tuple[Decimal, str]:
        value = require(result, "amount", "value", provider=PROVIDER)
        currency = str(require(result, "amount", "currency", provider=PROVIDER)).upper()
        if not is_currency(currency):
            raise UnexpectedResponse(f"{PROVIDER} answered amount.currency={currency!r}")
        amount = decimal_of(value, field="amount.value", provider=PROVIDER)
        if not amount.is_finite():
            raise UnexpectedResponse(f"{PROVIDER} answered amount.value={value!r}, not a number")
        return amount, currency

    def result_excerpt(self, result: dict) -> dict:
        amount = result["amount"]
        return {
            "amount": {"value": str(amount["value"]), "currency": amount["currency"]},
            "line_item": result.get("line_item"),
            "project_id": result.get("project_id"),
        }
