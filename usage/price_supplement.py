"""Prices the pinned genai-prices package does not have, bundled with the app.

`manage.py load_prices` loads them beside the package's (usage.pricing.model_prices_load), as
rows of the same source: read-only in the admin, overridden by a row an admin enters, from its
date. An entry for a model the package has come to price is left out, and the load says so:
the package wins, and the entry should then be deleted here.

Each price is a Decimal string in the ModelPrice column it fills (USD: per million tokens, or
per unit for `per_search_unit`), from the day the provider published it, with where it was read.
"""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class SupplementPrice:
    provider: str  # our slug, as events send it
    model: str  # as Cohere's API names it (and so as events do)
    effective_from: date  # the day the model, at this price, was published
    prices: dict[str, str]  # ModelPrice column -> Decimal string
    source: str  # where the price was read


# Cohere (genai-prices 0.2.3 has its chat models and embed-v4.0, not these). Prices: Cohere's
# self-serve list, https://cohere.com/pricing, "Rerank: $2.00 / 1K searches" (quoted so for
# rerank-v3.5 as of 2026-04) and "Embed (v3): $0.10 / 1M tokens"; LiteLLM's
# model_prices_and_context_window.json has the same (rerank input_cost_per_query 0.002, embed
# v3 input_cost_per_token 1e-07). A search unit is "one query with up to 100 documents to be
# ranked" (cohere.com/pricing FAQ; a long document is cut into chunks, each one a document);
# the API reports them as meta.billed_units.search_units, an embed's tokens as
# meta.billed_units.input_tokens. Dates: Embed v3 released 2023-11-02, Rerank 3 2024-04-11,
# Rerank 3.5 2024-12-02 (docs.cohere.com changelog). Cohere now sells some of these under
# contract only: a negotiated price is an admin override.
COHERE_PRICING = "cohere.com/pricing: Rerank 2.00 USD / 1K searches, Embed v3 0.10 USD / 1M tokens"
COHERE_RERANK = {"per_search_unit": "0.002"}  # 2.00 USD per 1,000 search units
COHERE_EMBED_V3 = {"input_mtok": "0.10"}

SUPPLEMENT = (
    SupplementPrice("cohere", "rerank-v3.5", date(2024, 12, 2), COHERE_RERANK, COHERE_PRICING),
    SupplementPrice(
        "cohere", "rerank-english-v3.0", date(2024, 4, 11), COHERE_RERANK, COHERE_PRICING
    ),
    SupplementPrice(
        "cohere", "rerank-multilingual-v3.0", date(2024, 4, 11), COHERE_RERANK, COHERE_PRICING
    ),
    SupplementPrice(
        "cohere", "embed-english-v3.0", date(2023, 11, 2), COHERE_EMBED_V3, COHERE_PRICING
    ),
    SupplementPrice(
        "cohere", "embed-multilingual-v3.0", date(2023, 11, 2), COHERE_EMBED_V3, COHERE_PRICING
    ),
    SupplementPrice(
        "cohere", "embed-english-light-v3.0", date(2023, 11, 2), COHERE_EMBED_V3, COHERE_PRICING
    ),
    SupplementPrice(
        "cohere",
        "embed-multilingual-light-v3.0",
        date(2023, 11, 2),
        COHERE_EMBED_V3,
        COHERE_PRICING,
    ),
)
