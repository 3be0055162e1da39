"""Weaviate's REST API, as documented (fixtures: weaviate_*.json).

Two collections: Article (text2vec-openai, 1536 dimensions) sharded over two nodes, 700,000 +
500,000 objects; Author (own 384-dimension vectors) replicated on both nodes, 250,000 objects
counted once. 1,200,000 x 1536 + 250,000 x 384 = 1,939,200,000 dimensions; at 0.095 per
million a month that is 184.224 (over the 25 minimum), 6.141 on 2026-11-20 (30-day month:
184,224 thousandths split over 30 days, the first 24 days get 6.141).
"""

from calendar import monthrange
from datetime import date
from decimal import Decimal

from costledger.money import split_evenly
from tests.fakeproviders.server import Route, fixture

DIMENSIONS = {"Article": 1536, "Author": 384}


def sample_object(collection: str, dimensions: int) -> dict:
    """GET /v1/objects?class=...&limit=1&include=vector with one object of that vector length."""
    body = fixture("weaviate_objects.json", **{"class": collection})
    body["objects"][0]["vector"] = [0.0123] * dimensions
    return body


def _objects(query, day) -> dict:
    collection = query["class"][0]
    return sample_object(collection, DIMENSIONS[collection])


ROUTES = [
    Route("GET", "/weaviate/v1/schema", fixture("weaviate_schema.json")),
    Route("GET", "/weaviate/v1/nodes", fixture("weaviate_nodes_verbose.json")),
    Route("GET", "/weaviate/v1/objects", _objects),
]
ENV = {"WEAVIATE_URL": "{base}/weaviate", "WEAVIATE_API_KEY": "fake-weaviate-api-key"}
EXPECTED = {
    "collections": 2,
    "objects": 1450000,
    "vector_dimensions": 1939200000,
    "estimate": "6.141",
    "estimate_monthly": "184.2240",
    "currency": "USD",
}


def expected_on(day: date) -> dict:
    """EXPECTED for a sync of `day`: the month's estimate is spread over the month's days."""
    days = monthrange(day.year, day.month)[1]
    pieces = split_evenly(Decimal(EXPECTED["estimate_monthly"]), "USD", days)
    return {**EXPECTED, "estimate": str(pieces[day.day - 1])}
