"""OpenRouter: what the account spent per day and model, from the activity API.

GET /api/v1/activity answers the last 30 completed UTC days, one row per day, model and
endpoint (the provider that served it), with `usage` — the OpenRouter credits spent, in
dollars — as a JSON number, read as Decimal by ProviderHTTP. Rows of one model on one day are
added up into one cost entry. It needs a management key.
https://openrouter.ai/docs/api/api-reference/analytics/get-user-activity

`byok_usage_inference` is what requests on the customer's own provider keys (BYOK) cost at
those providers: they bill it themselves (and their collectors record it), so it is kept in
`raw` and the figures, never added to OpenRouter's cost.

A day the API cannot report yet (today) or any more (older than 30 days) is left as it was
instead of being emptied, with a note saying so.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from collectors.base import Collector, CollectResult, ConnectionProbe, SyncWindow
from collectors.errors import CredentialsRejected, UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require
from costledger.models import CostEntry, Source
from costledger.providers import Category
from costledger.services import cost_entries_replace

PROVIDER = "OpenRouter"
ACTIVITY_PATH = "/v1/activity"
ACTIVITY_DAYS = 30  # the completed UTC days the activity API reports
CURRENCY = "USD"  # `usage` is in dollars (OpenRouter credits)
MANAGEMENT_KEY_HINT = (
    "OpenRouter's activity API answers management keys only: create one at "
    "https://openrouter.ai/settings/management-keys and set it as OPENROUTER_API_KEY"
)
EXCERPT_FIELDS = (
    "provider_name",
    "model_permaslug",
    "usage",
    "byok_usage_inference",
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
)


class OpenRouterCollector(Collector):
    name = "openrouter"
    provider_name = PROVIDER
    required_settings = ("OPENROUTER_API_KEY",)
    optional_settings = ("OPENROUTER_API_URL",)
    address_settings = ("OPENROUTER_API_URL",)

    def provider_http(self, **options) -> ProviderHTTP:
        return ProviderHTTP(
            PROVIDER,
            settings.OPENROUTER_API_URL,
            headers={"Authorization": f"Bearer {settings.OPENROUTER_API_KEY}"},
            **options,
        )

    def connection_probe(self) -> ConnectionProbe:
        # The activity API the collector reads, filtered to one completed UTC day: GET /v1/key
        # would pass with an ordinary inference key, which the sync's activity API refuses.
        yesterday = timezone.now().date() - timedelta(days=1)
        return ConnectionProbe(
            ACTIVITY_PATH,
            expect="data",
            params={"date": yesterday.isoformat()},
            refused_hint=MANAGEMENT_KEY_HINT,
        )

    def collect(self, window: SyncWindow) -> CollectResult:
        self.http = self.provider_http()
        try:
            answer = self.http.get_json(ACTIVITY_PATH)
        except CredentialsRejected as error:
            # An ordinary inference key is refused too: say which key the admin needs.
            error.args = (f"{error}; {MANAGEMENT_KEY_HINT}",)
            raise
        models = _by_day_and_model(require(answer, "data", provider=PROVIDER), window)
        entries = [self._cost_entry(day, model, rows) for (day, model), rows in models.items()]
        figures = _figures(entries, models)
        known = {day for day, _ in models} | _reportable_days(window)
        rows_written = 0
        for day in sorted(known):
            rows_written += cost_entries_replace(
                scope={"provider": "openrouter", "source": Source.API, "charge_period_start": day},
                entries=[entry for entry in entries if entry.charge_period_start == day],
            )
        return CollectResult(
            rows_written=rows_written,
            figures=figures,
            notes=[
                f"{day}: OpenRouter reports only the last {ACTIVITY_DAYS} completed UTC days; "
                "its rows were left as they were"
                for day in window.days()
                if day not in known
            ],
        )

    def _cost_entry(self, day: date, model: str, rows: list[dict]) -> CostEntry:
        return CostEntry(
            provider="openrouter",
            service=model,
            category=Category.LLM,
            charge_period_start=day,
            charge_period_end=day + timedelta(days=1),
            billed_cost=_sum(rows, "usage"),
            currency=CURRENCY,
            quantity=_sum(rows, "requests"),
            unit="requests",
            source=Source.API,
            sync_run_id=self.sync_run_id,
            raw={"endpoints": [_excerpt(row) for row in rows]},
        )


def _by_day_and_model(data: list, window: SyncWindow) -> dict[tuple[date, str], list[dict]]:
    models: dict[tuple[date, str], list[dict]] = defaultdict(list)
    for row in data:
        day = _day(require(row, "date", provider=PROVIDER))
        model = require(row, "model", provider=PROVIDER)
        if not model:
            raise UnexpectedResponse(f"{PROVIDER} answered an activity row without a model")
        if window.start <= day < window.end:
            models[(day, model)].append(row)
    return models


def _reportable_days(window: SyncWindow) -> set[date]:
    """The window's days the activity API reports: completed, and at most 30 days ago."""
    today = timezone.now().date()
    first = today - timedelta(days=ACTIVITY_DAYS)
    return {day for day in window.days() if first <= day < today}


def _sum(rows: list[dict], field: str) -> Decimal:
    return sum((_number(row, field) for row in rows), Decimal(0))


def _number(row: dict, field: str) -> Decimal:
    value = decimal_of(require(row, field, provider=PROVIDER), field=field, provider=PROVIDER)
    if not value.is_finite():
        raise UnexpectedResponse(f"{PROVIDER} answered {field}={row[field]!r}, not a number")
    return value


def _figures(entries: list[CostEntry], models: dict[tuple[date, str], list[dict]]) -> dict:
    byok = [row for rows in models.values() for row in rows if "byok_usage_inference" in row]
    return {
        "cost": sum((entry.billed_cost for entry in entries), Decimal(0)),
        "currency": CURRENCY,
        "models": len(entries),
        "requests": sum((entry.quantity for entry in entries), Decimal(0)),
        "byok_usage": _sum(byok, "byok_usage_inference"),
    }


def _excerpt(row: dict) -> dict:
    return {
        key: str(row[key]) if isinstance(row.get(key), Decimal) else row.get(key)
        for key in EXCERPT_FIELDS
    }


def _day(value) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise UnexpectedResponse(f"{PROVIDER} answered date={value!r}, not a date") from None
