from django.core.exceptions import ValidationError
from django.db import models

from costledger.money import is_currency


def validate_currency_code(value: str) -> None:
    if not is_currency(value):
        raise ValidationError(
            f"{value!r} is not an ISO 4217 currency code. Use the three letters on the invoice, "
            "e.g. USD, EUR, GBP.",
            code="unknown_currency",
        )


class CurrencyField(models.CharField):
    """An ISO 4217 code: stored upper case, refused when unknown."""

    default_validators = [validate_currency_code]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 3)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return value.strip().upper() if isinstance(value, str) else value
