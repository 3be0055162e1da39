"""Anthropic: what the organisation was billed per day and line item, from the Admin API's
cost report.

GET /v1/organizations/cost_report (admin key) answers one bucket per UTC day
(`bucket_width=1d`); grouped by `description`, each result is one billed line ("Claude Opus 5
Usage - Input Tokens", "Web Search Usage") with its model, cost and token type. `amount` is a
decimal string in the currency's lowest unit: "123.45" USD is 123.45 cents, $1.2345. It is
converted exactly (a shift of the decimal point, never float). Pages are followed through
`has_more` / `next_page` (the paging and the entries are
cost_reports.DailyCostReportCollector's).
https://docs.anthropic.com/en/api/admin-api/usage-cost/get-cost-report
"""

from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from collectors.base import ConnectionProbe, SyncWindow
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require
from collectors.sources.cost_reports import DailyCostReportCollector
from costledger.money import is_currency, minor_unit

PROVIDER = "Anthropic"
API_VERSION = "2023-06-01"
REPORT_PATH = "/v1/organizations/cost_report"
MAX_BUCKETS = 31  # the largest `limit` the cost report accepts for 1d buckets
NO_DESCRIPTION = "(no description)"
# Labels of a result kept as tags when every result of the line item agrees on them.
TAG_FIELDS = ("model", "cost_type", "token_type", "service_tier", "context_window")


class AnthropicCollector(DailyCostReportCollector):
    name = "anthropic"
    provider = "anthropic"
    provider_name = PROVIDER
    required_settings = ("ANTHROPIC_ADMIN_KEY",)
    optional_settings = ("ANTHROPIC_API_URL",)
    address_settings = ("ANTHROPIC_API_URL",)
    report_path = REPORT_PATH

    def provider_http(self, **options) -> ProviderHTTP:
        return ProviderHTTP(
            PROVIDER,
            settings.ANTHROPIC_API_URL,
            headers={"x-api-key": settings.ANTHROPIC_ADMIN_KEY, "anthropic-version": API_VERSION},
            **options,
        )

    def connection_probe(self) -> ConnectionProbe:
        # One daily bucket of the cost report the collector reads (an Admin API key only).
        today = timezone.now().date()
        return ConnectionProbe(
            REPORT_PATH, expect="data", params={"starting_at": _rfc3339(today), "limit": 1}
        )

    def window_params(self, window: SyncWindow) -> dict:
        return {
            "starting_at": _rfc3339(window.start),
            "ending_at": _rfc3339(window.end),
            "bucket_width": "1d",
            "group_by[]": "description",
            "limit": min(len(window.days()), MAX_BUCKETS),
        }

    def bucket_day(self, bucket: dict) -> date:
        starting_at = require(bucket, "starting_at", provider=PROVIDER)
        try:
            moment = datetime.fromisoformat(starting_at)
        except (TypeError, ValueError):
            moment = None
        if moment is None or moment.tzinfo is None:
            raise UnexpectedResponse(
                f"{PROVIDER} answered starting_at={starting_at!r}, not an RFC 3339 time"
            )
        return moment.astimezone(UTC).date()

    def result_item(self, result: dict) -> str:
        return result.get("description") or NO_DESCRIPTION

    def result_amount(self, result: dict) -> tuple[Decimal, str]:
        """The result's amount in the currency's major unit: the API answers its lowest unit."""
        currency = str(require(result, "currency", provider=PROVIDER)).upper()
        if not is_currency(currency):
            raise UnexpectedResponse(f"{PROVIDER} answered currency={currency!r}")
        lowest_unit = decimal_of(result["amount"], field="amount", provider=PROVIDER)
        if not lowest_unit.is_finite():
            raise UnexpectedResponse(
                f"{PROVIDER} answered amount={result['amount']!r}, not a number"
            )
        return lowest_unit.scaleb(-minor_unit(currency)), currency

    def result_excerpt(self, result: dict) -> dict:
        return {key: result.get(key) for key in ("amount", "currency", "description", *TAG_FIELDS)}

    def line_tags(self, results: list[dict]) -> dict:
        """The labels every result of the line item agrees on."""
        labels = {}
        for field in TAG_FIELDS:
            values = {result.get(field) for result in results}
            if len(values) == 1 and None not in values:
                labels[field] = values.pop()
        return labels


def _rfc3339(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"
