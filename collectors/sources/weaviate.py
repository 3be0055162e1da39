"""Weaviate: objects and vector dimensions per collection, and a cost estimate.

Weaviate has no billing API, so the cost is an **estimate** (source `estimate`) from the price
table below; an invoice an admin enters (source `manual`) supersedes it by the ledger's
precedence.

What is read (WEAVIATE_URL; `Authorization: Bearer WEAVIATE_API_KEY` when the key is set):
- `GET /v1/schema`: the collections (`classes`), and whether each is multi-tenant.
- `GET /v1/nodes?output=verbose`: every node's shards with their `objectCount`. A replicated
  shard appears once per replica under the same shard name, so a collection's objects are the
  sum over its distinct shard names (the largest count where replicas differ). Weaviate
  updates these counts asynchronously: they may lag a few seconds behind writes. Shards of
  inactive (offloaded) tenants and of unavailable nodes are not counted (a note names such
  nodes).
- `GET /v1/objects?class=<name>&limit=1&include=vector` (with `tenant=<its largest shard>` for
  a multi-tenant collection): one stored object, whose vector length is the collection's
  dimensions per object. The stored vector is the truth whatever the vectorizer, the model's
  default size or a `dimensions` option; module configs often leave it unsaid. Named vectors
  (`vectors`) add up; a multi-vector (a list of vectors) counts all its numbers. A collection
  without objects is not sampled.

Vector dimensions = objects x dimensions per object, the unit Weaviate Cloud bills.
MetricSamples per collection (dimensions {"collection": name}): `objects`,
`vector_dimensions`, and `vector_storage` in MB (dimensions x 4 bytes: raw float32 vectors,
before compression and without indexes or properties).

The estimate: a month costs max(dimensions / 1,000,000 x `per_million_dimensions`,
`minimum_monthly`), spread evenly over the days of the month (costledger.money.split_evenly:
the daily pieces sum exactly to the month); the window's day gets its piece, as one CostEntry
(service `vector_dimensions`). Price table: DEFAULT_PRICES, overridden key by key by
settings.WEAVIATE_PRICES (a dict, or its JSON text), e.g.
WEAVIATE_PRICES='{"per_million_dimensions": "0.145", "minimum_monthly": "25"}'; set both to 0
for a self-hosted Weaviate whose cost comes from its hosting bill.
"""

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings

from collectors.base import (
    NOT_BACKFILLED,
    Collector,
    CollectResult,
    ConnectionProbe,
    SyncWindow,
    window_is_today,
)
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require
from collectors.sources.price_tables import price_of, price_table
from costledger.models import CostEntry, MetricSample, Source
from costledger.money import split_evenly
from costledger.providers import Category
from costledger.services import cost_entries_replace_days, metric_samples_upsert

PROVIDER = "weaviate"
NAME = "Weaviate"
MILLION = Decimal(1_000_000)
FLOAT32_MB = Decimal(4) / MILLION  # MB per dimension of a raw float32 vector

# Weaviate Cloud Serverless, as published (weaviate.io/pricing): per million vector dimensions
# stored, per month, with a minimum monthly fee. Strings, so that they are exact Decimals.
DEFAULT_PRICES: dict[str, Any] = {
    "currency": "USD",
    "per_million_dimensions": "0.095",
    "minimum_monthly": "25",
}


@dataclass
class Collection:
    name: str
    objects: int
    dimensions_per_object: int

    @property
    def dimensions(self) -> int:
        return self.objects * self.dimensions_per_object


class WeaviateCollector(Collector):
    name = "weaviate"
    provider_name = "Weaviate"
    required_settings = ("WEAVIATE_URL",)
    optional_settings = ("WEAVIATE_API_KEY", "WEAVIATE_PRICES")
    address_settings = ("WEAVIATE_URL",)

    def provider_http(self, **options) -> ProviderHTTP:
        key = getattr(settings, "WEAVIATE_API_KEY", "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return ProviderHTTP(NAME, settings.WEAVIATE_URL, headers=headers, **options)

    def connection_probe(self) -> ConnectionProbe:
        # The cluster's metadata (version, modules): a few hundred bytes, behind the same
        # authentication as the schema and nodes the collector reads.
        return ConnectionProbe("/v1/meta", expect="version")

    def collect(self, window: SyncWindow) -> CollectResult:
        if not window_is_today(window):
            return CollectResult(
                notes=[NOT_BACKFILLED.format(provider=self.provider_name, window=window)]
            )
        prices = weaviate_prices()
        self.http = self.provider_http()
        notes: list[str] = []
        definitions = self._schema()
        shards = self._shards(notes)
        collections = []
        for name, multi_tenant in definitions.items():
            counts = shards.get(name, {})
            per_object = self._dimensions(name, multi_tenant, counts, notes)
            collections.append(Collection(name, sum(counts.values()), per_object))
        dimensions = sum(c.dimensions for c in collections)
        monthly = max(
            Decimal(dimensions) / MILLION * prices["per_million_dimensions"],
            prices["minimum_monthly"],
        )
        entries = [self._cost_entry(day, monthly, dimensions, prices) for day in window.days()]
        samples = [
            sample for day in window.days() for c in collections for sample in self._samples(day, c)
        ]
        rows = cost_entries_replace_days(
            start=window.start,
            end=window.end,
            entries=entries,
            provider=PROVIDER,
            source=Source.ESTIMATE,
        )
        rows += metric_samples_upsert(samples=samples)
        return CollectResult(
            rows_written=rows,
            figures={
                "collections": len(collections),
                "objects": sum(c.objects for c in collections),
                "vector_dimensions": dimensions,
                "estimate": sum((e.billed_cost for e in entries), Decimal(0)),
                "estimate_monthly": monthly,
                "currency": prices["currency"],
            },
            notes=notes,
        )

    def _schema(self) -> dict[str, bool]:
        """Each collection's name, and whether it is multi-tenant."""
        classes = require(self.http.get_json("/v1/schema"), "classes", provider=NAME)
        if not isinstance(classes, list):
            raise UnexpectedResponse(f"{NAME} answered classes that is not a list")
        return {
            str(require(definition, "class", provider=NAME)): bool(
                (definition.get("multiTenancyConfig") or {}).get("enabled")
            )
            for definition in classes
        }

    def _shards(self, notes: list[str]) -> dict[str, dict[str, int]]:
        """Objects per collection and distinct shard name (replicas counted once)."""
        body = self.http.get_json("/v1/nodes", params={"output": "verbose"})
        counts: dict[str, dict[str, int]] = {}
        for node in require(body, "nodes", provider=NAME):
            status = require(node, "status", provider=NAME)
            if status != "HEALTHY":
                notes.append(
                    f"Weaviate node {node.get('name', '?')} is {status}: objects on shards only it "
                    "holds may be missing from the counts"
                )
            for shard in node.get("shards") or []:
                collection = str(require(shard, "class", provider=NAME))
                name = str(require(shard, "name", provider=NAME))
                count = _count(require(shard, "objectCount", provider=NAME), "objectCount")
                shards = counts.setdefault(collection, {})
                shards[name] = max(shards.get(name, 0), count)
        return counts

    def _dimensions(
        self, collection: str, multi_tenant: bool, shards: dict[str, int], notes: list[str]
    ) -> int:
        """The vector length of one stored object of the collection (0 when it has none)."""
        if not sum(shards.values()):
            return 0
        params: dict[str, Any] = {"class": collection, "limit": 1, "include": "vector"}
        if multi_tenant:  # a tenant's shard is named after it; objects are read per tenant
            params["tenant"] = max(shards, key=shards.__getitem__)
        objects = require(
            self.http.get_json("/v1/objects", params=params), "objects", provider=NAME
        )
        if not isinstance(objects, list):
            raise UnexpectedResponse(f"{NAME} answered objects that is not a list")
        if not objects:
            notes.append(
                f"Weaviate counted objects in {collection} but listed none to read the vector "
                "length from; its vector dimensions are counted as 0 for now"
            )
            return 0
        sample = objects[0]
        if not isinstance(sample, dict):
            raise UnexpectedResponse(f"{NAME} answered an object that is not a JSON object")
        named = sample.get("vectors") or {}
        if not isinstance(named, dict):
            raise UnexpectedResponse(f"{NAME} answered vectors that is not an object")
        return _length(sample.get("vector"), "vector") + sum(
            _length(vector, f"vectors.{name}") for name, vector in named.items()
        )

    def _samples(self, day: date, collection: Collection) -> list[MetricSample]:
        figures = [
            ("objects", Decimal(collection.objects), "objects"),
            ("vector_dimensions", Decimal(collection.dimensions), "dimensions"),
            ("vector_storage", collection.dimensions * FLOAT32_MB, "MB"),
        ]
        return [
            MetricSample(
                provider=PROVIDER,
                metric=metric,
                day=day,
                dimensions={"collection": collection.name},
                value=value,
                unit=unit,
                sync_run_id=self.sync_run_id,
            )
            for metric, value, unit in figures
        ]

    def _cost_entry(self, day: date, monthly: Decimal, dimensions: int, prices: dict) -> CostEntry:
        days = monthrange(day.year, day.month)[1]
        return CostEntry(
            provider=PROVIDER,
            service="vector_dimensions",
            category=Category.INFRASTRUCTURE,
            charge_period_start=day,
            charge_period_end=day + timedelta(days=1),
            billed_cost=split_evenly(monthly, prices["currency"], days)[day.day - 1],
            currency=prices["currency"],
            quantity=Decimal(dimensions) / MILLION,
            unit="million dimensions",
            source=Source.ESTIMATE,
            sync_run_id=self.sync_run_id,
            raw={
                "monthly": str(monthly),
                "days_in_month": days,
                "vector_dimensions": dimensions,
                "per_million_dimensions": str(prices["per_million_dimensions"]),
                "minimum_monthly": str(prices["minimum_monthly"]),
            },
        )


def _length(vector: Any, field: str) -> int:
    """Numbers in a vector, or in all the vectors of a multi-vector."""
    if vector is None:
        return 0
    if isinstance(vector, list) and all(isinstance(x, list) for x in vector):
        return sum(_length(inner, field) for inner in vector)
    if isinstance(vector, list) and all(isinstance(x, Decimal | int) for x in vector):
        return len(vector)
    raise UnexpectedResponse(f"{NAME} answered a {field} that is not a list of numbers")


def _count(value: Any, field: str) -> int:
    number = decimal_of(value, field=field, provider=NAME)
    if number != number.to_integral_value() or number < 0:
        raise UnexpectedResponse(f"{NAME} answered {field}={value!r}, not a count")
    return int(number)


def weaviate_prices() -> dict:
    """DEFAULT_PRICES overridden key by key by settings.WEAVIATE_PRICES, amounts as Decimal."""
    prices = price_table(
        setting="WEAVIATE_PRICES",
        defaults=DEFAULT_PRICES,
        documented_in="collectors/sources/weaviate.py",
    )
    for key in ("per_million_dimensions", "minimum_monthly"):
        prices[key] = price_of(prices[key], setting="WEAVIATE_PRICES", name=key)
    return prices
