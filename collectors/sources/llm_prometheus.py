"""LLM usage per day, user, provider and model from Prometheus: requests, errors, input and
output tokens and, where the gateway exports it, spend.

One instant query per figure and day through the HTTP API (GET /api/v1/query), evaluated at the
end of the UTC day: `sum by (<user, model and provider labels>) (increase(<metric>[1d]))`.
Instant queries are not paginated: Prometheus answers the whole vector at once.
https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries

Metric and label names come from a preset, overridable key by key:
- "litellm": LiteLLM proxy's counters (https://docs.litellm.ai/docs/proxy/prometheus). Its
  requests counter counts successful calls only, so failed calls are added to it. The provider
  is the `api_provider` label where LiteLLM sets it, else read from the model name.
- "otel": the OpenTelemetry GenAI metrics (`gen_ai.client.token.usage`,
  `gen_ai.client.operation.duration`), as an OTLP -> Prometheus translation names them
  (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/). The conventions carry
  no cost, so rows have cost None and no cost entry is written.

increase() extrapolates to the window's edges, so counters come back with fractions: token,
request and error counts are rounded to whole numbers (ROUND_HALF_UP) after summing. Sample values
are strings and are read as Decimal, never through float.
"""

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from collectors.base import Collector, CollectResult, ConnectionProbe, SyncWindow
from collectors.errors import CollectorError, ProviderRefused, UnexpectedResponse
from collectors.http import ProviderHTTP, require
from costledger.models import MONEY, CostEntry, Source
from costledger.money import is_currency
from costledger.providers import Category
from costledger.services import cost_entries_replace_days
from usage.models import LlmUsageDaily, LlmUsageSource
from usage.services import llm_usage_daily_replace

PROVIDER = "Prometheus"
QUERY_PATH = "/api/v1/query"
# Marks this collector's `usage` cost entries, so that other writers of `usage` rows (the LLM
# event ingest) and this one never replace each other's.
REFERENCE = "prometheus"
COUNTS = ("requests", "errors", "input_tokens", "output_tokens")
COST_QUANTUM = Decimal(1).scaleb(-MONEY["decimal_places"])
# prometheus_client writes a None label value as the string "None" (LiteLLM's end_user is often
# unset): it means "no value", like a missing label.
NO_VALUE = ("", "None")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# Provider label values (LiteLLM's custom_llm_provider, OTel's gen_ai.provider.name) that name a
# provider the ledger knows under another slug.
PROVIDER_ALIASES = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "anthropic": "anthropic",
    "openrouter": "openrouter",
}
# Model-name prefixes that tell the provider when no label does. Only models served by their
# maker by default: an Azure or Bedrock deployment should set the provider label (or override
# "model_providers").
MODEL_PROVIDERS = {
    "gpt-": "openai",
    "chatgpt-": "openai",
    "o1": "openai",
    "o3": "openai",
    "o4": "openai",
    "text-embedding-": "openai",
    "dall-e": "openai",
    "whisper": "openai",
    "tts-": "openai",
    "claude": "anthropic",
}

PRESETS: dict[str, dict[str, Any]] = {
    "litellm": {
        "requests": "litellm_requests_metric_total",
        "errors": "litellm_llm_api_failed_requests_metric_total",
        "input_tokens": "litellm_input_tokens_metric_total",
        "output_tokens": "litellm_output_tokens_metric_total",
        "cost": "litellm_spend_metric_total",
        "requests_include_errors": False,
        "user_labels": ["end_user", "user", "hashed_api_key"],
        "model_labels": ["model"],
        "provider_labels": ["api_provider", "custom_llm_provider"],
    },
    "otel": {
        "requests": "gen_ai_client_operation_duration_seconds_count",
        "errors": 'gen_ai_client_operation_duration_seconds_count{error_type!=""}',
        "input_tokens": 'gen_ai_client_token_usage_sum{gen_ai_token_type="input"}',
        "output_tokens": 'gen_ai_client_token_usage_sum{gen_ai_token_type="output"}',
        "cost": "",
        "requests_include_errors": True,
        "user_labels": ["user_id", "enduser_id"],
        "model_labels": ["gen_ai_response_model", "gen_ai_request_model"],
        "provider_labels": ["gen_ai_provider_name", "gen_ai_system"],
    },
}
DEFAULT_PRESET = "litellm"


class MetricsConfigInvalid(CollectorError):
    """LLM_PROMETHEUS_PRESET or LLM_PROMETHEUS_METRICS cannot be used as set."""


@dataclass(frozen=True)
class MetricsConfig:
    """Which series hold each figure (a metric name or selector; "" to leave it out) and which
    labels name the user, model and provider (first one with a value wins)."""

    preset: str
    requests: str
    errors: str
    input_tokens: str
    output_tokens: str
    cost: str
    requests_include_errors: bool
    user_labels: list[str]
    model_labels: list[str]
    provider_labels: list[str]
    currency: str = "USD"
    default_provider: str = "other"
    model_providers: dict[str, str] = field(default_factory=lambda: dict(MODEL_PROVIDERS))

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(self.user_labels + self.model_labels + self.provider_labels))


def metrics_config() -> MetricsConfig:
    """The preset named by LLM_PROMETHEUS_PRESET with LLM_PROMETHEUS_METRICS laid over it."""
    preset = getattr(settings, "LLM_PROMETHEUS_PRESET", "") or DEFAULT_PRESET
    if preset not in PRESETS:
        raise MetricsConfigInvalid(
            f"LLM_PROMETHEUS_PRESET={preset!r} is not a preset; use one of {', '.join(PRESETS)}"
        )
    overrides = _overrides(getattr(settings, "LLM_PROMETHEUS_METRICS", "") or {})
    config = MetricsConfig(preset=preset, **PRESETS[preset])
    known = {f.name for f in fields(MetricsConfig)} - {"preset"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise MetricsConfigInvalid(
            f"LLM_PROMETHEUS_METRICS has unknown keys {', '.join(unknown)}; the keys are "
            f"{', '.join(sorted(known))}"
        )
    config = replace(config, **overrides)
    _config_check(config)
    return config


def _overrides(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise MetricsConfigInvalid("LLM_PROMETHEUS_METRICS is not valid JSON") from None
    if not isinstance(value, dict):
        raise MetricsConfigInvalid("LLM_PROMETHEUS_METRICS must be a JSON object")
    return value


def _config_check(config: MetricsConfig) -> None:
    def invalid(key: str, expected: str):
        return MetricsConfigInvalid(
            f"LLM_PROMETHEUS_METRICS: {key} must be {expected}, not {getattr(config, key)!r}"
        )

    for key in (*COUNTS, "cost"):
        if not isinstance(getattr(config, key), str):
            raise invalid(key, 'a metric name or selector, or "" to leave it out')
    if not config.input_tokens and not config.output_tokens:
        raise invalid("input_tokens", "set when output_tokens is not")
    for key in ("user_labels", "model_labels", "provider_labels"):
        names = getattr(config, key)
        if not isinstance(names, list) or not all(
            isinstance(n, str) and LABEL_NAME.fullmatch(n) for n in names
        ):
            raise invalid(key, "a list of Prometheus label names")
    if not config.model_labels:
        raise invalid("model_labels", "at least one label name")
    if not isinstance(config.requests_include_errors, bool):
        raise invalid("requests_include_errors", "true or false")
    if not isinstance(config.currency, str) or not is_currency(config.currency):
        raise invalid("currency", "an ISO 4217 currency code")
    if not isinstance(config.default_provider, str) or not _slug(config.default_provider):
        raise invalid("default_provider", "a provider slug")
    if not isinstance(config.model_providers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config.model_providers.items()
    ):
        raise invalid("model_providers", "an object of model-name prefix -> provider slug")


@dataclass
class Usage:
    """One (day, user, provider, model) as summed from the series; rounded when written."""

    counts: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    cost: Decimal | None = None
    cost_series: list[dict] = field(default_factory=list)


UsageKey = tuple[date, str, str, str]  # day, user_id, provider, model


class PrometheusLLMCollector(Collector):
    name = "llm_prometheus"
    provider_name = PROVIDER
    required_settings = ("PROMETHEUS_URL",)
    optional_settings = (
        "PROMETHEUS_BEARER_TOKEN",
        "LLM_PROMETHEUS_PRESET",
        "LLM_PROMETHEUS_METRICS",
    )
    address_settings = ("PROMETHEUS_URL",)

    def provider_http(self, **options) -> ProviderHTTP:
        token = getattr(settings, "PROMETHEUS_BEARER_TOKEN", "")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return ProviderHTTP(PROVIDER, settings.PROMETHEUS_URL, headers=headers, **options)

    def connection_probe(self) -> ConnectionProbe:
        # An instant query of a constant, through the query API the collector itself uses
        # (rather than /api/v1/status/buildinfo): a Prometheus-compatible store that answers
        # it answers the collector's queries, whatever else of the API it implements.
        return ConnectionProbe(QUERY_PATH, expect="data", params={"query": "vector(1)"})

    def collect(self, window: SyncWindow) -> CollectResult:
        self.config = metrics_config()
        self.http = self.provider_http()
        self.notes: list[str] = []
        self.rounded = False
        usage: dict[UsageKey, Usage] = defaultdict(Usage)
        for day in window.days():
            self._collect_day(day, usage)
        rows = {key: self._usage_row(key, figures) for key, figures in usage.items()}
        if self.rounded:
            self.notes.append("increase() gave fractional counts: rounded to whole numbers")
        entries = self._cost_entries(rows, usage)
        written = llm_usage_daily_replace(
            source=LlmUsageSource.PROMETHEUS,
            start=window.start,
            end=window.end,
            rows=list(rows.values()),
        )
        written += cost_entries_replace_days(
            start=window.start,
            end=window.end,
            entries=entries,
            source=Source.USAGE,
            reference=REFERENCE,
        )
        return CollectResult(
            rows_written=written, figures=self._figures(list(rows.values())), notes=self.notes
        )

    def _collect_day(self, day: date, usage: dict[UsageKey, Usage]) -> None:
        at, duration = _evaluation(day)
        for figure in (*COUNTS, "cost"):
            selector = getattr(self.config, figure)
            if not selector:
                continue
            query = f"sum by ({', '.join(self.config.labels)}) (increase({selector}[{duration}]))"
            series = self._vector(query, at)
            if not series:
                self.notes.append(
                    f"{day}: no series for {selector} (check LLM_PROMETHEUS_METRICS if this "
                    "figure should have data)"
                )
            for labels, value, raw in series:
                key = (day, *self._dimensions(labels))
                if figure == "cost":
                    usage[key].cost = (usage[key].cost or Decimal(0)) + value
                    usage[key].cost_series.append(raw)
                else:
                    usage[key].counts[figure] += value

    def _vector(self, query: str, at: int) -> list[tuple[dict, Decimal, dict]]:
        """The (labels, value, raw series) of an instant query's vector answer."""
        answer = self.http.get_json(QUERY_PATH, params={"query": query, "time": str(at)})
        status = require(answer, "status", provider=PROVIDER)
        if status == "error":
            raise ProviderRefused(
                f"Prometheus refused the query {query}: {answer.get('errorType')}: "
                f"{answer.get('error')}"
            )
        if status != "success":
            raise UnexpectedResponse(f"Prometheus answered status={status!r} for {query}")
        result_type = require(answer, "data", "resultType", provider=PROVIDER)
        result = require(answer, "data", "result", provider=PROVIDER)
        if result_type != "vector" or not isinstance(result, list):
            raise UnexpectedResponse(
                f"Prometheus answered a {result_type!r} result for {query}, not the instant "
                "vector a sum by (...) gives"
            )
        self.notes.extend(f"Prometheus warning: {w}" for w in answer.get("warnings") or [])
        return [(*_sample(series, query), series) for series in result]

    def _dimensions(self, labels: dict) -> tuple[str, str, str]:
        """(user_id, provider slug, model) of a series."""
        user = _first(labels, self.config.user_labels)
        model = _first(labels, self.config.model_labels) or "unknown"
        provider = _first(labels, self.config.provider_labels)
        prefix, slash, rest = model.partition("/")
        # "openai/gpt-4o": the prefix names the provider (unless a label names another one,
        # as with OpenRouter's "anthropic/claude-..." ids, which are kept whole).
        if slash and prefix.lower() in PROVIDER_ALIASES and _slug(provider) in ("", _slug(prefix)):
            provider, model = prefix, rest
        if not provider:
            lowered = model.lower()
            provider = next(
                (
                    p
                    for start, p in self.config.model_providers.items()
                    if lowered.startswith(start)
                ),
                self.config.default_provider,
            )
        return user[:200], _slug(provider) or self.config.default_provider, model[:200]

    def _usage_row(self, key: UsageKey, usage: Usage) -> LlmUsageDaily:
        day, user_id, provider, model = key
        counts = {name: _whole(usage.counts[name]) for name in COUNTS}
        self.rounded = self.rounded or any(usage.counts[n] != counts[n] for n in COUNTS)
        if not self.config.requests_include_errors:
            counts["requests"] += counts["errors"]
        return LlmUsageDaily(
            day=day,
            user_id=user_id,
            provider=provider,
            model=model,
            source=LlmUsageSource.PROMETHEUS,
            cost=_stored_cost(usage.cost),
            currency=self.config.currency,
            sync_run_id=self.sync_run_id,
            **counts,
        )

    def _cost_entries(
        self, rows: dict[UsageKey, LlmUsageDaily], usage: dict[UsageKey, Usage]
    ) -> list[CostEntry]:
        """One `usage` cost entry per day, provider and model whose spend is known."""
        by_model: dict[tuple[date, str, str], list[UsageKey]] = defaultdict(list)
        for key, row in rows.items():
            if row.cost is not None:
                by_model[(row.day, row.provider, row.model)].append(key)
        return [
            CostEntry(
                provider=provider,
                service=model,
                category=Category.LLM,
                charge_period_start=day,
                charge_period_end=day + timedelta(days=1),
                billed_cost=sum((rows[k].cost for k in keys), Decimal(0)),
                currency=self.config.currency,
                quantity=sum(rows[k].input_tokens + rows[k].output_tokens for k in keys),
                unit="tokens",
                source=Source.USAGE,
                reference=REFERENCE,
                tags={"collector": self.name, "preset": self.config.preset},
                sync_run_id=self.sync_run_id,
                raw={
                    "metric": self.config.cost,
                    "series": [s for k in keys for s in usage[k].cost_series][:3],
                },
            )
            for (day, provider, model), keys in by_model.items()
        ]

    def _figures(self, rows: list[LlmUsageDaily]) -> dict[str, Any]:
        figures: dict[str, Any] = {"preset": self.config.preset}
        for name in COUNTS:
            figures[name] = sum(getattr(row, name) for row in rows)
        costs = [row.cost for row in rows if row.cost is not None]
        figures["cost"] = sum(costs, Decimal(0)) if self.config.cost else None
        figures["currency"] = self.config.currency if self.config.cost else ""
        figures["users"] = len({row.user_id for row in rows if row.user_id})
        figures["models"] = len({(row.provider, row.model) for row in rows})
        return figures


def _evaluation(day: date) -> tuple[int, str]:
    """When to evaluate a day's increase() and over what range: the end of the UTC day, or now
    for today (a future evaluation time would stretch the range past the data)."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    now = timezone.now()
    if start < now < end:
        return int(now.timestamp()), f"{int((now - start).total_seconds())}s"
    return int(end.timestamp()), "1d"


def _sample(series: Any, query: str) -> tuple[dict, Decimal]:
    labels = require(series, "metric", provider=PROVIDER)
    value = require(series, "value", provider=PROVIDER)
    if (
        not isinstance(labels, dict)
        or not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[1], str)
    ):
        raise UnexpectedResponse(
            f"Prometheus answered the sample {value!r} for {query}, not the documented "
            '[<unix time>, "<value>"]'
        )
    try:
        number = Decimal(value[1])
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite() or number < 0:
        raise UnexpectedResponse(
            f"Prometheus answered the value {value[1]!r} for {query}, not a count or amount"
        )
    return labels, number


def _first(labels: dict, names: list[str]) -> str:
    return next((str(labels[n]) for n in names if n in labels and labels[n] not in NO_VALUE), "")


def _slug(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in PROVIDER_ALIASES:
        return PROVIDER_ALIASES[lowered]
    return re.sub(r"[^a-z0-9_-]+", "-", lowered).strip("-")[:64]


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _stored_cost(cost: Decimal | None) -> Decimal | None:
    """The cost at the ledger's storage precision, so that figures and rows agree; floats'
    artefacts (0.06480300000000001) are beyond it."""
    if cost is None or cost.as_tuple().exponent >= -MONEY["decimal_places"]:
        return cost
    rounded = cost.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP).normalize()
    # normalize() drops the quantum's trailing zeros, and would write 100 as 1E+2.
    return rounded if rounded.as_tuple().exponent <= 0 else rounded.quantize(Decimal(1))
