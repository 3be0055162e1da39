"""LLM usage: raw events, their daily sums, the price book and the ingest API's keys.

The tables keep the names they had when they lived in the ledger core and the collectors
(`db_table`): moving them here (migration 0001) moved no data.
"""

from usage.models.prices import ModelPrice, PriceSource
from usage.models.raw import CostSource, IngestKey, LlmUsageEvent, LlmUsagePruning, UsageUser
from usage.models.sums import (
    LlmUsageClosedMonth,
    LlmUsageDaily,
    LlmUsageModelDaily,
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageTagLatest,
    LlmUsageTagLatestCount,
    LlmUsageTagNextDayCount,
    LlmUsageUserActiveDay,
    LlmUsageUserDaily,
    LlmUsageUserLatest,
    LlmUsageUserMonth,
    LlmUsageUserMonthly,
    LlmUsageUserNextDayCount,
    LlmUsageUserTagDaily,
)

__all__ = [
    "CostSource", "IngestKey", "LlmUsageClosedMonth", "LlmUsageDaily", "LlmUsageEvent",
    "LlmUsageModelDaily", "LlmUsagePruning", "LlmUsageSource", "LlmUsageTagDaily",
    "LlmUsageTagKeyDaily",
    "LlmUsageTagLatest", "LlmUsageTagLatestCount", "LlmUsageTagNextDayCount",
    "LlmUsageUserActiveDay", "LlmUsageUserDaily", "LlmUsageUserLatest", "LlmUsageUserMonth",
    "LlmUsageUserMonthly", "LlmUsageUserNextDayCount", "LlmUsageUserTagDaily", "ModelPrice",
    "PriceSource", "UsageUser",
]  # fmt: skip
