"""LLM usage: raw events, their daily sums, the price book and the ingest API's keys.

The tables keep the names they had when they lived in the ledger core and the collectors
(`db_table`): moving them here (migration 0001) moved no data.
"""

from usage.models.prices import ModelPrice, PriceSource
from usage.models.raw import CostSource, IngestKey, LlmUsageEvent, LlmUsagePruning, UsageUser
from usage.models.sums import (
    LlmUsageDaily,
    LlmUsageModelDaily,
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageTagLatest,
    LlmUsageTagLatestCount,
    LlmUsageUserDaily,
    LlmUsageUserLatest,
    LlmUsageUserMonth,
    LlmUsageUserTagDaily,
)

__all__ = [
    "CostSource", "IngestKey", "LlmUsageDaily", "LlmUsageEvent", "LlmUsageModelDaily",
    "LlmUsagePruning", "LlmUsageSource", "LlmUsageTagDaily", "LlmUsageTagKeyDaily",
    "LlmUsageTagLatest", "LlmUsageTagLatestCount", "LlmUsageUserDaily", "LlmUsageUserLatest",
    "LlmUsageUserMonth", "LlmUsageUserTagDaily", "ModelPrice", "PriceSource", "UsageUser",
]  # fmt: skip
