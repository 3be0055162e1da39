from decimal import Decimal

from django import template

from costledger.models import Source
from costledger.money import round_money
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
