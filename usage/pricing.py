"""The LLM price book: what a model costs on a day, and the exact cost of a request's usage.

Prices are ModelPrice rows: seeded from the pinned `genai-prices` package's bundled offline data
and its supplement (usage.price_supplement: models the package does not price, such as Cohere's
rerank and embed v3) by `manage.py load_prices` (source "genai-prices"), overridden by rows
entered in the admin (source "admin"). For a (provider, model) and a day, the row with the
latest `effective_from` on or before the day wins; on the same date an admin row beats a
package row.

Model names are resolved with genai-prices' own matching, so "gpt-4o-2024-08-06" is priced as
"gpt-4o" and "claude-sonnet-4-5-20250929" as "claude-sonnet-4-5", unless a row exists for the
name exactly as the event gives it.

This module is on the ingest hot path: `price_book_load` makes one query per batch, and
`PriceBook.price_for` and `usage_cost` are dictionary look-ups and a few Decimal products.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache

from django.db import transaction
from genai_prices import types as gp
from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

from usage.models import ModelPrice, PriceSource
from usage.price_supplement import SUPPLEMENT

# The effective date of a package price that has no start date: before any LLM API existed.
ALWAYS = date(2000, 1, 1)
PRICE_PLACES = 8  # ModelPrice's price columns: DECIMAL(18, 8)


# --- Cost of usage ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenUsage:
    """What one request (or several, `requests`) used. Token kinds are disjoint: `input_tokens`
    is uncached input only, and reasoning tokens are never also counted in `output_tokens`."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    search_units: int = 0  # rerank searches, as the provider bills them
    requests: int = 1


class PriceMissing(ValueError):
    """The price row has no price for a kind of token the usage has (an embedding model's row
    and output tokens), or for its search units: the usage is unpriced, never costed at 0 for
    that kind."""


def _tiered(base: Decimal | None, tiers: list[dict] | None, context_tokens: int) -> Decimal | None:
    """The per-million price once the request's context is known: genai-prices' "cliff" tiers,
    where passing a tier's start applies its price to all tokens of the kind."""
    if base is None or not tiers:
        return base
    passed = [tier for tier in tiers if context_tokens > tier["start"]]
    if not passed:
        return base
    return Decimal(max(passed, key=lambda tier: tier["start"])["price"])


def usage_cost(*, usage: TokenUsage, price: ModelPrice) -> Decimal:
    """The exact cost of `usage` at `price`, in the price's currency, unrounded.

    Each token kind times its per-million price; reasoning tokens at the output price (as
    OpenAI and Anthropic bill them); cache reads and cache writes at the input price when the
    row has no cache price (the industry rule: OpenAI bills no cache writes, and a provider
    without caching bills those tokens as plain input); plus per_request x requests and
    per_image x images when the row has them (images without a per-image price are taken as
    billed inside the input tokens, as OpenAI, Anthropic and Google bill vision input);
    plus per_search_unit x search units (a rerank: nothing else bills them, so a row without
    that price cannot price them). Long-context tiers apply when input + cache read + cache
    write tokens pass a tier's start.

    Raises PriceMissing when the usage has tokens of a kind, or search units, the row cannot
    price.
    """
    tiers = price.tiers or {}
    context = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    input_rate = _tiered(price.input_mtok, tiers.get("input"), context)
    output_rate = _tiered(price.output_mtok, tiers.get("output"), context)
    cache_read_rate = _tiered(price.cache_read_mtok, tiers.get("cache_read"), context)
    cache_write_rate = _tiered(price.cache_write_mtok, tiers.get("cache_write"), context)
    if cache_read_rate is None:
        cache_read_rate = input_rate
    if cache_write_rate is None:
        cache_write_rate = input_rate
    priced = (
        ("input", usage.input_tokens, input_rate),
        ("output", usage.output_tokens + usage.reasoning_tokens, output_rate),
        ("cache read", usage.cache_read_tokens, cache_read_rate),
        ("cache write", usage.cache_write_tokens, cache_write_rate),
    )
    token_cost = Decimal(0)
    missing = []
    for kind, tokens, rate in priced:
        if not tokens:
            continue
        if rate is None:
            missing.append(kind)
        else:
            token_cost += rate * tokens
    if usage.search_units and price.per_search_unit is None:
        missing.append("search unit")
    if missing:
        raise PriceMissing(
            f"{price} has no {' or '.join(missing)} price: add one in the admin (Price book) "
            "to price this usage."
        )
    cost = token_cost.scaleb(-6)  # per million: exact, a shift of the exponent
    if price.per_request is not None:
        cost += price.per_request * usage.requests
    if price.per_image is not None:
        cost += price.per_image * usage.images
    if price.per_search_unit is not None:
        cost += price.per_search_unit * usage.search_units
    return cost


# --- Model names -----------------------------------------------------------------------------

# genai-prices provider ids that are not our provider slugs (costledger.providers). None differ
# today (openai, anthropic and openrouter are the same in both); every other provider keeps the
# package's id as its slug (google, mistral, deepseek, groq, x-ai...).
_SLUG_BY_PACKAGE_ID: dict[str, str] = {}
_PACKAGE_ID_BY_SLUG = {slug: package_id for package_id, slug in _SLUG_BY_PACKAGE_ID.items()}


def _slug(package_id: str) -> str:
    return _SLUG_BY_PACKAGE_ID.get(package_id, package_id)


@cache
def _package() -> tuple[list[gp.Provider], dict[int, str]]:
    """The package's providers, and which provider each model belongs to (by object id): a
    provider can match another's model (Azure serves OpenAI's), which is priced under its own."""
    providers = get_snapshot().providers
    owners = {id(model): provider.id for provider in providers for model in provider.models}
    return providers, owners


@lru_cache(maxsize=20_000)
def price_key(provider: str, model: str) -> tuple[str, str]:
    """(provider slug, model id) of the package prices for a model as an event names it; the
    names as given when the package does not know the model.

    "openai/gpt-4o" sent with provider "openai" is looked up as "gpt-4o" when the package has no
    model of that exact name (LiteLLM-style names carry their provider as a prefix).
    """
    providers, owners = _package()
    package_provider = find_provider_by_id(providers, _PACKAGE_ID_BY_SLUG.get(provider, provider))
    if package_provider is None or not model:
        return provider, model
    found = package_provider.find_model(model, all_providers=providers)
    prefix, _, rest = model.partition("/")
    if found is None and rest and prefix.lower() in {provider, package_provider.id}:
        found = package_provider.find_model(rest, all_providers=providers)
    if found is None:
        return provider, model
    return _slug(owners[id(found)]), found.id


def model_canonical(provider: str, model: str) -> str:
    """The package's id of a model as an event names it ("gpt-4o-2024-08-06" -> "gpt-4o");
    the name as given when the package does not know it."""
    return price_key(provider, model)[1]


# --- The price book --------------------------------------------------------------------------


class PriceBook:
    """The price rows of a batch's models, in memory: `price_for` makes no query."""

    def __init__(self, prices: Iterable[ModelPrice]):
        by_name: dict[tuple[str, str], list[ModelPrice]] = defaultdict(list)
        for price in prices:
            by_name[(price.provider, price.model)].append(price)
        for rows in by_name.values():
            # Latest first; on the same date the admin's row before the package's.
            rows.sort(key=lambda p: (p.effective_from, p.source == PriceSource.ADMIN), reverse=True)
        self._prices = dict(by_name)
        self._answers: dict[tuple[str, str, date], ModelPrice | None] = {}

    def _latest(self, name: tuple[str, str], day: date) -> ModelPrice | None:
        for price in self._prices.get(name, ()):
            if price.effective_from <= day:
                return price
        return None

    def price_for(self, provider: str, model: str, day: date) -> ModelPrice | None:
        """The price in force on `day`: a row for the model exactly as named first, else one for
        its package id. None when the model is unpriced. (Remembered: a batch asks the same
        question for most of its events.)"""
        asked = (provider, model, day)
        if asked not in self._answers:
            self._answers[asked] = self._latest((provider, model), day) or self._latest(
                price_key(provider, model), day
            )
        return self._answers[asked]


def price_book_load(*, pairs: set[tuple[str, str]], until: date) -> PriceBook:
    """The price book for a batch's (provider, model) pairs and days up to `until`, in one query
    (rows for the names as given and for their package ids)."""
    names = set(pairs) | {price_key(provider, model) for provider, model in pairs}
    if not names:
        return PriceBook([])
    rows = ModelPrice.objects.filter(
        provider__in={provider for provider, _ in names},
        model__in={model for _, model in names},
        effective_from__lte=until,
    )
    return PriceBook(row for row in rows if (row.provider, row.model) in names)


# --- Loading the package ---------------------------------------------------------------------

PRICE_FIELDS = (
    "currency",
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "per_request",
    "per_image",
    "per_search_unit",
    "tiers",
    "notes",
)
# genai-prices price keys loaded into ModelPrice columns; the others are named in `notes`.
_LOADED_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",  # the 5-minute write; 1-hour writes are cache_write_1h_mtok
}


@dataclass(frozen=True)
class PriceLoad:
    written: int
    unchanged: int
    skipped: tuple[str, ...]  # what was left out, one line each


def _fit(value: Decimal, key: str, notes: list[str]) -> Decimal:
    """The value in the column's 8 decimal places; a few package values are floats' digits
    (0.18000000000000002), rounded here and said so in the row's notes."""
    if value.as_tuple().exponent >= -PRICE_PLACES:
        return value
    rounded = value.quantize(Decimal(1).scaleb(-PRICE_PLACES), rounding=ROUND_HALF_UP)
    notes.append(f"{key} {value} in genai-prices, rounded to {rounded}.")
    return rounded


def _plain(value: Decimal) -> str:
    return format(value, "f")


def _row(
    provider: str, model: gp.ModelInfo, prices: gp.ModelPrice, effective_from: date, notes: list
) -> ModelPrice:
    listed = {key: value for key, value in vars(prices).items() if value is not None}
    row = ModelPrice(
        provider=provider,
        model=model.id,
        effective_from=effective_from,
        source=PriceSource.PACKAGE,
        currency="USD",
    )
    tiers = {}
    for key, kind in _LOADED_KEYS.items():
        value = listed.get(key)
        if isinstance(value, gp.TieredPrices):
            tiers[kind] = [{"start": t.start, "price": _plain(t.price)} for t in value.tiers]
            value = value.base
        if value is not None:
            setattr(row, key, _fit(value, key, notes))
    if listed.get("requests_kcount") is not None:
        row.per_request = _fit(listed["requests_kcount"] / 1000, "requests_kcount / 1000", notes)
    row.tiers = tiers
    others = sorted(set(listed) - set(_LOADED_KEYS) - {"requests_kcount"})
    if not listed:
        row.input_mtok = row.output_mtok = Decimal(0)
        notes.append("Free: genai-prices lists no price for it.")
    elif others:
        notes.append(f"Not loaded from genai-prices: {', '.join(others)}.")
    row.notes = " ".join(notes)
    return row


def _when(variant: gp.PriceVariant) -> str:
    return ", ".join(f"{key}={value}" for key, value in variant.when.items())


def _model_rows(provider: str, model: gp.ModelInfo, skipped: list[str]) -> list[ModelPrice]:
    name = f"{provider}/{model.id}"
    entries = model.prices
    if isinstance(entries, gp.ModelPrice):
        entries = [gp.ConditionalPrice(prices=entries)]
    common = []
    if any(isinstance(e.constraint, gp.TimeOfDateConstraint) for e in entries):
        common.append(
            "Time-of-day prices in genai-prices (peak or off-peak hours) are not applied."
        )
        skipped.append(f"{name}: time-of-day prices (not loaded; the standard price applies)")
    if model.price_variants:
        whens = sorted({_when(variant) for variant in model.price_variants})
        common.append(f"Price variants not applied: {'; '.join(whens)}.")
    rows = []
    for entry in entries:
        if isinstance(entry.constraint, gp.TimeOfDateConstraint):
            continue
        listed = {k for k, v in vars(entry.prices).items() if v is not None}
        if listed and not listed & {*_LOADED_KEYS, "requests_kcount"}:
            skipped.append(f"{name}: no token or request price ({', '.join(sorted(listed))})")
            continue
        start = entry.constraint.start_date if entry.constraint else ALWAYS
        rows.append(_row(provider, model, entry.prices, start, list(common)))
    return rows


def _supplement_rows(packaged: set[tuple[str, str]], skipped: list[str]) -> list[ModelPrice]:
    """The supplement's prices (usage.price_supplement), but for models the package prices."""
    rows = []
    for entry in SUPPLEMENT:
        name = (entry.provider, entry.model)
        if name in packaged or price_key(*name) != name:
            skipped.append(
                f"{'/'.join(name)}: priced by genai-prices now, the supplement's price is left "
                "out (delete it from usage/price_supplement.py)"
            )
            continue
        row = ModelPrice(
            provider=entry.provider,
            model=entry.model,
            effective_from=entry.effective_from,
            source=PriceSource.PACKAGE,
            currency="USD",
            tiers={},
            notes=f"Not in genai-prices: bundled supplement (usage/price_supplement.py), from "
            f"{entry.source}.",
        )
        for column, price in entry.prices.items():
            setattr(row, column, Decimal(price))
        rows.append(row)
    return rows


def package_prices() -> tuple[list[ModelPrice], list[str]]:
    """The package's prices and its supplement's as unsaved ModelPrice rows, and what was left
    out."""
    rows: list[ModelPrice] = []
    skipped: list[str] = []
    for provider in get_snapshot().providers:
        for model in provider.models:
            rows.extend(_model_rows(_slug(provider.id), model, skipped))
    rows.extend(_supplement_rows({(row.provider, row.model) for row in rows}, skipped))
    return rows, skipped


def _key(price: ModelPrice) -> tuple:
    return price.provider, price.model, price.effective_from


def _differs(stored: ModelPrice, row: ModelPrice) -> bool:
    return any(getattr(stored, field) != getattr(row, field) for field in PRICE_FIELDS)


@transaction.atomic
def model_prices_load() -> PriceLoad:
    """Upsert the package's prices and its supplement's as "genai-prices" rows, writing only
    what changed, so that a re-run writes nothing. Rows entered in the admin are never
    touched."""
    rows, skipped = package_prices()
    # One row per key: PostgreSQL refuses an ON CONFLICT that touches the same row twice.
    rows = list({_key(row): row for row in rows}.values())
    stored = {_key(p): p for p in ModelPrice.objects.filter(source=PriceSource.PACKAGE)}
    changed = [row for row in rows if _key(row) not in stored or _differs(stored[_key(row)], row)]
    ModelPrice.objects.bulk_create(
        changed,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["provider", "model", "effective_from", "source"],
        update_fields=[*PRICE_FIELDS, "updated_at"],
    )
    return PriceLoad(
        written=len(changed), unchanged=len(rows) - len(changed), skipped=tuple(skipped)
    )
