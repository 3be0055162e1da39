"""European Central Bank: the euro foreign exchange reference rates, loaded as the ledger's
exchange rates (source "ecb") for every currency the ledger holds.

The feed (ECB_RATES_URL) is public XML, without a key: gesmes:Envelope > Cube > one
Cube time="YYYY-MM-DD" per day > Cube currency="USD" rate="1.1589", the units of a currency one
euro buys. The default, eurofxref-hist-90d.xml, holds the last 90 days (newest first), so a
back-fill within them needs nothing more; eurofxref-hist.xml goes back to 1999. Rates are
published on TARGET working days only: a day without a publication gets no row, and the latest
earlier rate stays in force (the ledger's rule). A rate an admin entered is never replaced.
https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/index.en.html
"""

import re
from collections import defaultdict
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from django.conf import settings

from collectors.base import Collector, CollectResult, ConnectionProbe, SyncWindow
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, address_shown
from costledger.models import ExchangeRate
from costledger.selectors import currencies_held
from costledger.services import exchange_rates_load

PROVIDER = "European Central Bank"
SOURCE = "ecb"
QUANTUM = Decimal(1).scaleb(-ExchangeRate._meta.get_field("rate").decimal_places)
LARGEST = Decimal(10) ** 14  # a rate of 24 digits, 10 of them places
CODE = re.compile(r"[A-Z]{3}")
NUMBER = re.compile(r"\d+(\.\d+)?")

Quotes = dict[str, Decimal]  # currency -> the units of it one euro buys


class ECBRatesCollector(Collector):
    name = "ecb"
    provider_name = PROVIDER
    required_settings = ("ECB_RATES_URL",)
    address_settings = ("ECB_RATES_URL",)

    def provider_http(self, **options) -> ProviderHTTP:
        return ProviderHTTP(
            PROVIDER,
            settings.ECB_RATES_URL,
            headers={"Accept": "application/xml, text/xml"},
            **options,
        )

    def connection_probe(self) -> ConnectionProbe:
        # The feed itself, a static file: the one read the sync makes.
        path = urlsplit(settings.ECB_RATES_URL).path or "/"
        return ConnectionProbe("", expect="Cube", document="XML", shown=f"GET {path}")

    def collect(self, window: SyncWindow) -> CollectResult:
        published = feed_days(self.provider_http().get_xml(""))
        currencies = sorted((currencies_held() | {"EUR"}) - {settings.REPORTING_CURRENCY})
        days = [day for day in window.days() if day in published]
        if window.start not in published:
            # The rate in force on the window's first day is the latest published before it
            # (a run on a Sunday, the first run after an install): written too, so that the
            # day has a rate at all.
            days[:0] = [max((day for day in published if day < window.start), default=None)]
            days = [day for day in days if day is not None]
        rates, unquoted = rates_in_reporting_currency(published, days, currencies)
        kept = (
            ExchangeRate.objects.filter(day__in=days, currency__in=currencies)
            .exclude(source=SOURCE)
            .count()
        )
        written = exchange_rates_load(rates=rates)
        notes = window_notes(window, published)
        notes += [unquoted_note(currency, days) for currency, days in unquoted.items()]
        if kept:
            notes.append(
                f"{kept} {'rate' if kept == 1 else 'rates'} entered by hand kept: a rate of "
                "another source is never replaced by the ECB's"
            )
        return CollectResult(
            rows_written=written,
            figures={
                "days_published": len(days),
                "currencies": ", ".join(sorted({rate.currency for rate in rates})),
            },
            notes=notes,
        )


def rates_in_reporting_currency(
    published: dict[date, Quotes], days: list[date], currencies: list[str]
) -> tuple[list[ExchangeRate], dict[str, list[date]]]:
    """Each currency's rate on each day, and per currency the days the ECB published no quote
    for it (without a quote of the reporting currency, a day has no rate at all)."""
    reporting = settings.REPORTING_CURRENCY
    rates: list[ExchangeRate] = []
    unquoted: dict[str, list[date]] = defaultdict(list)
    for day in days:
        quotes = {"EUR": Decimal(1), **published[day]}
        if reporting not in quotes:
            unquoted[reporting].append(day)
            continue
        for currency in currencies:
            if currency in quotes:
                rate = _rate(quotes, currency, day)
                rates.append(ExchangeRate(day=day, currency=currency, rate=rate, source=SOURCE))
            else:
                unquoted[currency].append(day)
    return rates, unquoted


def _rate(quotes: Quotes, currency: str, day: date) -> Decimal:
    reporting = settings.REPORTING_CURRENCY
    rate = cross_rate(quotes[reporting], quotes[currency])
    if not 0 < rate < LARGEST:
        raise UnexpectedResponse(
            f"{PROVIDER} answered rates giving 1 {currency} = {rate} {reporting} on {day}, "
            "which no exchange rate can be"
        )
    return rate


def cross_rate(reporting_per_euro: Decimal, currency_per_euro: Decimal) -> Decimal:
    """What one unit of a currency is worth in the reporting currency, from the units of each
    one euro buys: to the column's 10 places, rounded HALF_UP once."""
    # Truncated (never rounded) at 60 digits, far past the places kept, the quotient stays on
    # the same side of every half-way point: HALF_UP then rounds as it would the exact value.
    with localcontext(prec=60, rounding=ROUND_DOWN):
        return (reporting_per_euro / currency_per_euro).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def feed_days(root: Element) -> dict[date, Quotes]:
    """Every day of the feed with its quotes. Anything the feed does not document is refused,
    naming it, so that nothing is written from a page that is not the feed."""
    cube = _child(root, "Cube") if _local(root.tag) == "Envelope" else None
    if cube is None:
        raise UnexpectedResponse(
            f"{PROVIDER} answered {address_shown(settings.ECB_RATES_URL)} with a document that "
            f"is not its euro reference rates feed (<{_local(root.tag)}>, no gesmes:Envelope "
            "holding a Cube): check ECB_RATES_URL"
        )
    published: dict[date, Quotes] = {}
    for day_cube in _children(cube, "Cube"):
        day = _day(day_cube.get("time"))
        if day in published:
            raise UnexpectedResponse(f"{PROVIDER} answered the rates of {day} twice")
        published[day] = _quotes(day_cube, day)
    if not published:
        raise UnexpectedResponse(f"{PROVIDER} answered a feed without a single day of rates")
    return published


def _quotes(day_cube: Element, day: date) -> Quotes:
    quotes: Quotes = {}
    for cube in _children(day_cube, "Cube"):
        currency, rate = cube.get("currency"), cube.get("rate")
        if currency is None or not CODE.fullmatch(currency):
            raise UnexpectedResponse(
                f"{PROVIDER} answered currency={currency!r} on {day}, not a currency code"
            )
        if rate is None or not NUMBER.fullmatch(rate) or not Decimal(rate):
            raise UnexpectedResponse(
                f"{PROVIDER} answered rate={rate!r} for {currency} on {day}, not a positive number"
            )
        if currency in quotes:
            raise UnexpectedResponse(f"{PROVIDER} answered {currency} twice on {day}")
        quotes[currency] = Decimal(rate)
    if not quotes:
        raise UnexpectedResponse(f"{PROVIDER} answered {day} without a single rate")
    return quotes


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise UnexpectedResponse(
            f"{PROVIDER} answered a day of rates with time={value!r}, not a date"
        ) from None


def _local(tag: str) -> str:
    """An element's name without its namespace: {http://...}Cube -> Cube."""
    return tag.rpartition("}")[2]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _child(element: Element, name: str) -> Element | None:
    return next(iter(_children(element, name)), None)


def window_notes(window: SyncWindow, published: dict[date, Quotes]) -> list[str]:
    """The window's days without a publication, by why: before the feed, after it (not yet
    published), or closing days within it."""
    first, last = min(published), max(published)
    missing = [day for day in window.days() if day not in published]
    before = [day for day in missing if day < first]
    after = [day for day in missing if day > last]
    closed = [day for day in missing if first < day < last]
    notes = []
    if before:
        notes.append(
            f"the feed holds {first} to {last}: {days_text(before)} before it not loaded (for an "
            "older back-fill point ECB_RATES_URL at eurofxref-hist.xml, which goes back to 1999)"
        )
    if closed:
        notes.append(
            f"no publication on {days_text(closed)} (a weekend or a TARGET holiday): the latest "
            "earlier rate stays in force"
        )
    if after:
        notes.append(
            f"{days_text(after)} not published yet (the ECB publishes around 16:00 CET on "
            "working days): the latest rate stays in force"
        )
    return notes


def unquoted_note(currency: str, days: list[date]) -> str:
    if currency == settings.REPORTING_CURRENCY:
        return (
            f"the ECB publishes no rate for the reporting currency {currency} on "
            f"{days_text(days)}: no rate derived; enter them by hand in Exchange rates"
        )
    return (
        f"the ECB publishes no rate for {currency} on {days_text(days)}: enter its rates by hand "
        "in Exchange rates"
    )


def days_text(days: list[date]) -> str:
    if len(days) <= 3:
        return ", ".join(str(day) for day in days)
    return f"{len(days)} days from {days[0]} to {days[-1]}"
