"""Which VAT an invoice line carries, for a seller in `seller_country` (a setting, default FR,
comes with the invoices):

- a per-customer override wins;
- a customer in the seller's country: that country's standard rate (a TaxRate record);
- a business in another EU country, with a VAT number of a valid format: reverse charge, 0%,
  with the legal mention printed on the invoice;
- a customer outside the EU: 0%, outside the scope of EU VAT (the place of supply of a
  service to a business is the customer's country);
- a customer in another EU country without a valid VAT number (a consumer): the seller's
  standard rate, as below the EU distance-selling threshold (an OSS registration is the seller's
  own business, not modelled here).

VAT numbers are checked with python-stdnum (format and check digits per member state): a
number that fails is treated as none, and the customer form refuses it.
"""

from dataclasses import dataclass
from decimal import Decimal

from stdnum.eu import vat

# ISO 3166 codes of the EU member states (python-stdnum's list, without Northern Ireland's XI,
# which is not a country code).
EU_COUNTRIES = frozenset(code.upper() for code in vat.MEMBER_STATES) - {"XI"}
REVERSE_CHARGE_MENTION = (
    "Reverse charge: VAT to be accounted for by the recipient (Article 196 of Council "
    "Directive 2006/112/EC)."
)
EXPORT_MENTION = "VAT not applicable: services supplied outside the EU (Article 44 of Council Directive 2006/112/EC)."  # noqa: E501


@dataclass(frozen=True)
class TaxDecision:
    rate: Decimal  # a fraction: 0.20 for 20%
    rule: str  # "override", "domestic", "reverse_charge", "export", "eu_consumer"
    mention: str = ""  # printed on the invoice when not empty


def vat_number_valid(number: str, country: str) -> bool:
    """The number's format and check digits are valid for an EU member state, and it belongs
    to `country` (Greece writes EL where its country code is GR)."""
    if not number or not vat.is_valid(number):
        return False
    prefix = vat.compact(number)[:2].upper()
    return {"EL": "GR"}.get(prefix, prefix) == country.upper()


def tax_decision(
    *,
    country: str,
    vat_number: str,
    seller_country: str,
    standard_rates: dict[str, Decimal],
    override: Decimal | None = None,
) -> TaxDecision:
    """The VAT of a customer in `country`; `standard_rates` by ISO country (the TaxRate
    records). A KeyError names a missing standard rate of the seller's country."""
    country, seller_country = country.upper(), seller_country.upper()
    if override is not None:
        return TaxDecision(override, "override")
    if country == seller_country:
        return TaxDecision(standard_rates[seller_country], "domestic")
    if country in EU_COUNTRIES:
        if vat_number_valid(vat_number, country):
            return TaxDecision(Decimal(0), "reverse_charge", REVERSE_CHARGE_MENTION)
        return TaxDecision(standard_rates[seller_country], "eu_consumer")
    return TaxDecision(Decimal(0), "export", EXPORT_MENTION)
