"""Long-context price tiers of the price book, checked before they are stored: every entry path
(the admin's form, the model's clean()) refuses what the pricing code (usage.pricing) would
choke on at ingest. No model import here: the price model checks its tiers with it."""

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from costledger.validators import decimal_text_problem

TIER_KINDS = ("input", "output", "cache_read", "cache_write")
# A tier starting past any context window could never apply, and a handful per kind is all any
# provider has.
MAX_TIER_START = 1_000_000_000
MAX_TIERS_PER_KIND = 20


def tiers_problems(tiers: object, *, priced_kinds: Iterable[str]) -> list[str]:
    """What is wrong with a `tiers` value, in words an admin can act on (empty when valid).

    `priced_kinds` are the kinds the row has a base price for: a tier needs one.
    """
    if tiers in (None, {}):
        return []
    example = 'e.g. {"input": [{"start": 200000, "price": "6"}]}'
    if not isinstance(tiers, dict):
        return [f"Tiers must be an object of token kinds, {example}."]
    problems = []
    for kind, steps in tiers.items():
        if kind not in TIER_KINDS:
            problems.append(f"{kind!r} is not a token kind: use {', '.join(TIER_KINDS)}.")
            continue
        if kind not in priced_kinds:
            problems.append(f"{kind!r} has tiers but no base price: enter its price first.")
        if not isinstance(steps, list) or not steps:
            problems.append(f"{kind!r} must be a list of tiers, {example}.")
            continue
        problems.extend(_tier_steps_problems(kind, steps))
    return problems


def _tier_steps_problems(kind: str, steps: list) -> list[str]:
    problems, previous = [], -1
    for step in steps:
        start = step.get("start") if isinstance(step, dict) else None
        price = step.get("price") if isinstance(step, dict) else None
        if type(start) is not int or start <= previous:
            problems.append(
                f"{kind!r}: each tier needs a whole-number 'start' of tokens, in increasing order."
            )
            break
        previous = start
        try:
            valid = isinstance(price, str) and Decimal(price).is_finite() and Decimal(price) >= 0
        except InvalidOperation:
            valid = False
        if not valid:
            problems.append(
                f"{kind!r}: the tier from {start} needs a 'price' per million tokens written as "
                'a string, e.g. "6" or "0.6".'
            )
    return problems


def tiers_size_problems(tiers: dict) -> list[str]:
    """What tiers_problems lets through in well-formed tiers but the pricing
    code must never meet: other keys in a tier (whatever they hold is read back at every
    ingest), starts past any context, prices the price columns (DECIMAL(18, 8)) could not hold.
    """
    problems = []
    for kind, steps in tiers.items():
        if len(steps) > MAX_TIERS_PER_KIND:
            problems.append(f"{kind!r} has {len(steps)} tiers; at most {MAX_TIERS_PER_KIND}.")
            continue
        for step in steps:
            if set(step) != {"start", "price"}:
                problems.append(f"{kind!r}: a tier has exactly the keys 'start' and 'price'.")
            elif step["start"] > MAX_TIER_START:
                problems.append(
                    f"{kind!r}: a tier starts at {MAX_TIER_START:,} tokens at most; one starting "
                    "later could never apply."
                )
            elif problem := decimal_text_problem(step["price"], max_digits=18, decimal_places=8):
                problems.append(f"{kind!r}: the price of the tier from {step['start']}: {problem}")
    return problems
