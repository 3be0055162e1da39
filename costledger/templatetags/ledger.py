from datetime import date
from decimal import Decimal

from django import template
from django.contrib.admin.utils import label_for_field
from django.forms.utils import pretty_name
from django.utils.text import capfirst

from costledger.models import Source
from costledger.money import plain_text, round_money
from costledger.providers import provider_name

register = template.Library()


@register.filter
def money(amount: Decimal | str | None, currency: str) -> str:
    """Rounded to the currency's minor unit, with thousands separators: 1,234.50. Takes the
    exact strings of the reports' JSON too ("14011.07")."""
    if amount is None:
        return "—"
    return f"{round_money(Decimal(str(amount)), currency):,}"


@register.filter
def percent_of_one(ratio: Decimal | None) -> str:
    """A ratio (0.1234) as a percentage with two decimals: 12.34 %."""
    if ratio is None:
        return "—"
    return f"{(Decimal(ratio) * 100).quantize(Decimal('0.01'))} %"


@register.filter
def allocation_rule_words(rule: str) -> str:
    """How shared costs were allocated, inside a sentence: "by share of LLM cost"."""
    return {
        "llm_cost": "by share of LLM cost",
        "requests": "by share of requests",
        "even": "evenly per active customer",
    }.get(rule, rule)


@register.filter
def source_label(source: str) -> str:
    return Source(source).label


@register.filter
def provider_label(slug: str) -> str:
    return provider_name(slug)


@register.filter
def index(values, position: int):
    """values[position], or None past its end: a column's note beside its figures."""
    try:
        return values[position]
    except (IndexError, TypeError, KeyError):
        return None


@register.filter
def field_label(name: str, opts) -> str:
    """How the admin heads a column of the model `opts` describes: its field's verbose name
    ("Period start" for period_start), or a method's description; else the name in words."""
    try:
        return capfirst(label_for_field(name, opts.model))
    except AttributeError:  # an attribute of the admin, not of the model
        return pretty_name(name)


@register.filter
def shown(value):
    """A stored value as a history line shows it: 41.17, not the column's 41.1700; days ISO."""
    if isinstance(value, Decimal) and value.is_finite():
        return plain_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
