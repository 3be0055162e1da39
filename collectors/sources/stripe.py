"""Stripe: MRR per currency with subscription counts (a revenue snapshot of today), and the fees
Stripe kept from the balance, per day and currency, as `payments` costs.

Why Stripe goes through its SDK and not collectors.http, the one HTTP chokepoint: DESIGN.md and
issue #3 name the official SDK for Stripe. It owns what a hand-written client would have to copy
and keep current: the API version header that fixes every object's shape, cursor pagination
(`starting_after`, auto-paging), nested `expand[]` parameters and the error types. It still talks
through `requests` (stripe.RequestsClient), so tests fake it with `responses` like any other
provider, with our timeout and retry count (the SDK retries timeouts, connection errors and 5xx);
its errors become the same CollectorErrors, in the same words, here (`_collector_error`), and a
429, which the SDK does not retry, waits with collectors.http's backoff (honouring Retry-After)
and resumes after the last object read. Nothing global in the `stripe` module is touched: one
StripeClient per run.

MRR follows Stripe's own definition (docs.stripe.com/billing/subscriptions/analytics/glossary,
support.stripe.com/questions/billing-analytics): `active` and `past_due` subscriptions; trials,
metered prices and one-off prices left out; each price normalised to a month from its interval and
interval_count, times the quantity; and only `forever` coupons reduce it (item discounts first,
then the subscription's, as Stripe applies them). Stripe's amounts are integers in the currency's
minor unit, or `*_decimal` strings with up to 12 decimals: they are added up exactly (Fraction)
and turned into major units once, with Stripe's own minor units.

Per customer (costledger.CustomerRevenue, CustomerMrr; what margin per customer reads): the MRR
of each customer by the same definition (a currency's MRR is the sum of its customers' rows), and
what each customer paid per day and currency, net of tax and refunds: invoices with status `paid`
by the day of `status_transitions.paid_at`, `amount_paid` less its tax share (`total_taxes`, or
`tax` before API version 2025-03-31: share = (total - taxes) / total); refunds (`succeeded` or
`pending`) by the day made, of the refund's customer (or its expanded charge's), less the tax
share of the invoice that payment paid: matched through the expanded `payments` of the invoices
read (created up to INVOICE_LOOKBACK before the window: Stripe filters invoices on `created`
only), else looked up by its payment intent (GET /v1/invoice_payments). A refund of a payment
that paid no invoice is left out, as that payment never counted as paid; so are objects
without a customer (a guest payment, a `customer_account`), each with a note.
docs.stripe.com/api/invoices/object, /api/refunds/object, /api/invoice-payment/object.

MRR is a snapshot of the moment it is read: it is written for today only and never back-filled.
Subscriptions are read one page at a time and added up as they arrive, so memory stays flat
whatever their number.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import stripe
from django.conf import settings
from django.utils import timezone

from collectors import http
from collectors.base import Collector, CollectResult, ConnectionProbe, SyncWindow
from collectors.errors import (
    CollectorError,
    CredentialsRejected,
    ProviderRefused,
    UnexpectedResponse,
)
from collectors.http import require
from collectors.sources.stripe_amounts import (
    PROVIDER,
    currency_of,
    customer_of,
    exponent_of,
    integer_of,
    major_units,
    tidy,
)
from collectors.sources.stripe_mrr import Revenue, SubscriptionsMrr
from costledger.days import unix_start
from costledger.models import CostEntry, CustomerMrr, CustomerRevenue, RevenueSnapshot, Source
from costledger.providers import Category
from costledger.services import (
    cost_entries_replace_days,
    customer_mrr_replace_day,
    customer_revenue_replace_days,
    revenue_snapshots_upsert,
)

PAGE_SIZE = 100  # the most Stripe gives in one page
MAX_OBJECTS = http.MAX_PAGES * PAGE_SIZE
# How many months one billing interval lasts: a week is 12/52 of a month, a day 12/365.
# Paid invoices are listed by when they were created (Stripe filters invoices on `created`, not
# on when they were paid) from this long before the window, and kept when paid inside it.
INVOICE_LOOKBACK = timedelta(days=60)
REFUNDED_STATUSES = ("succeeded", "pending")  # failed and canceled refunds gave nothing back
PROCESSING_FEES = "processing fees"
PRODUCT_FEES = "product fees"  # Billing, Radar, Connect... (reporting_category "fee")


@dataclass
class DayFees:
    """What Stripe kept on one day in one currency, in minor units."""

    processing: int = 0  # the `fee` of charges, refunds, payouts...
    processing_count: int = 0
    product: int = 0  # Stripe's own products (Billing, Radar...): reporting_category "fee"
    product_count: int = 0


@dataclass
class CustomerDay:
    """What one customer paid and got back on one day in one currency, in minor units net of
    tax (exact fractions: a tax share is rarely whole cents)."""

    paid: Fraction = Fraction(0)
    refunded: Fraction = Fraction(0)
    invoices: int = 0
    refunds: int = 0


class StripeCollector(SubscriptionsMrr, Collector):
    name = "stripe"
    provider_name = "Stripe"
    required_settings = ("STRIPE_SECRET_KEY",)
    optional_settings = ("STRIPE_API_URL",)
    address_settings = ("STRIPE_API_URL",)

    def provider_http(self, **options) -> http.ProviderHTTP:
        """For the connection test only: collect() goes through the SDK (see above). Stripe
        takes its secret key as a bearer token."""
        return http.ProviderHTTP(
            PROVIDER,
            settings.STRIPE_API_URL,
            headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
            **options,
        )

    def connection_probe(self) -> ConnectionProbe:
        # One balance transaction, the list the fees are read from: what a restricted key
        # must be allowed to read for the sync, rather than a request the sync never makes.
        return ConnectionProbe("/v1/balance_transactions", expect="data", params={"limit": 1})

    def collect(self, window: SyncWindow) -> CollectResult:
        today = timezone.now().date()
        transport = stripe.RequestsClient(timeout=settings.COLLECTOR_HTTP_TIMEOUT)
        self.client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_URL.rstrip("/")},
            max_network_retries=settings.COLLECTOR_HTTP_RETRIES,
            http_client=transport,
        )
        self.notes: list[str] = []
        self.coupons: dict[str, dict | None] = {}
        self.tiers: dict[str, list] = {}
        try:
            fees = self._fees(window)
            payments = self._customer_payments(window)
            rows = cost_entries_replace_days(
                start=window.start,
                end=window.end,
                provider="stripe",
                source=Source.API,
                entries=[
                    entry
                    for (day, currency), day_fees in sorted(fees.items())
                    for entry in self._fee_entries(day, currency, day_fees)
                ],
            )
            collected = self._customer_revenue(payments)
            rows += customer_revenue_replace_days(
                provider="stripe", start=window.start, end=window.end, rows=collected
            )
            figures = {**_fee_figures(fees), **_collected_figures(collected)}
            if window.start <= today < window.end:
                by_customer = self._revenue()
                customer_mrr = self._customer_mrr(today, by_customer)
                snapshots = self._snapshots(today, _per_currency(by_customer, customer_mrr))
                rows += revenue_snapshots_upsert(snapshots=snapshots)
                rows += customer_mrr_replace_day(provider="stripe", day=today, rows=customer_mrr)
                figures.update(_revenue_figures(snapshots))
            else:
                self.notes.append(
                    f"MRR is a snapshot of now and is not back-filled: for {window} only the "
                    f"fees and payments were written; today's ({today}) run records the revenue "
                    "snapshot"
                )
        finally:
            transport.close()
        return CollectResult(rows_written=rows, figures=figures, notes=self.notes)

    # Fees

    def _fees(self, window: SyncWindow) -> dict[tuple[date, str], DayFees]:
        params = {"created": {"gte": unix_start(window.start), "lt": unix_start(window.end)}}
        fees: dict[tuple[date, str], DayFees] = defaultdict(DayFees)
        listing = self.client.v1.balance_transactions.list
        for txn in self._each("GET /v1/balance_transactions", listing, params):
            day = datetime.fromtimestamp(integer_of(txn, "created"), UTC).date()
            if not window.start <= day < window.end:
                continue
            bucket = fees[(day, currency_of(txn))]
            if txn.get("reporting_category") == "fee":
                # A charge by Stripe itself: its amount is what we paid (negative), fee is 0.
                bucket.product -= integer_of(txn, "net")
                bucket.product_count += 1
            else:
                bucket.processing += integer_of(txn, "fee")
                bucket.processing_count += 1
        return fees

    def _fee_entries(self, day: date, currency: str, fees: DayFees) -> list[CostEntry]:
        created = {"gte": unix_start(day), "lt": unix_start(day + timedelta(days=1))}
        kinds = (  # service, cost in minor units, transactions, the excerpt of what was summed
            (PROCESSING_FEES, fees.processing, fees.processing_count, {"fee": fees.processing}),
            (PRODUCT_FEES, fees.product, fees.product_count, {"net": -fees.product}),
        )
        return [
            CostEntry(
                provider="stripe",
                service=service,
                category=Category.PAYMENTS,
                charge_period_start=day,
                charge_period_end=day + timedelta(days=1),
                billed_cost=major_units(minor, currency),
                currency=currency,
                quantity=Decimal(count),
                unit="balance transactions",
                source=Source.API,
                reference=currency,  # one row per currency: a day can settle in several
                sync_run_id=self.sync_run_id,
                raw={
                    "object": "balance_transaction",
                    "created": created,
                    "currency": currency.lower(),
                    "count": count,
                    **summed,
                },
            )
            for service, minor, count, summed in kinds
            if count
        ]

    # Revenue per customer

    def _customer_payments(self, window: SyncWindow) -> dict[tuple[date, str, str], CustomerDay]:
        """Per (day, customer, currency): the paid invoices (by the day paid) net of their tax,
        and the refunds (by the day made) net of the tax of the invoice they pay back."""
        days: dict[tuple[date, str, str], CustomerDay] = defaultdict(CustomerDay)
        # payment intent or charge -> the net share of the invoice it paid (None: it paid none)
        net_share: dict[str, Fraction | None] = {}
        anonymous_invoices = 0
        params = {
            "status": "paid",
            "created": {
                "gte": unix_start(window.start - INVOICE_LOOKBACK),
                "lt": unix_start(window.end),
            },
            "expand": ["data.payments"],
        }
        for invoice in self._each("GET /v1/invoices", self.client.v1.invoices.list, params):
            share = _net_share(invoice)
            for payment in _payment_ids(invoice):
                net_share[payment] = share
            day = _paid_day(invoice)
            if day and window.start <= day < window.end:
                customer = _customer_or_none(invoice)
                if customer is None:
                    anonymous_invoices += 1
                    continue
                bucket = days[(day, customer, currency_of(invoice))]
                bucket.paid += integer_of(invoice, "amount_paid") * share
                bucket.invoices += 1
        params = {
            "created": {"gte": unix_start(window.start), "lt": unix_start(window.end)},
            "expand": ["data.charge"],
        }
        not_invoiced, anonymous = 0, 0
        for refund in self._each("GET /v1/refunds", self.client.v1.refunds.list, params):
            if require(refund, "status", provider=PROVIDER) not in REFUNDED_STATUSES:
                continue
            charge = refund.get("charge")
            if isinstance(charge, str):
                raise UnexpectedResponse(
                    f"Stripe answered the charge {charge!r} of a refund unexpanded, although the "
                    "request asked to expand it"
                )
            customer = _customer_or_none(refund) or (
                _customer_or_none(charge) if isinstance(charge, dict) else None
            )
            if customer is None:
                anonymous += 1  # a payment of no customer: no customer's revenue to reduce
                continue
            share = self._refunded_share(refund, charge, net_share)
            if share is None:
                not_invoiced += 1  # its payment was never counted as paid: nor is the refund
                continue
            day = datetime.fromtimestamp(integer_of(refund, "created"), UTC).date()
            bucket = days[(day, customer, currency_of(refund))]
            bucket.refunded += integer_of(refund, "amount") * share
            bucket.refunds += 1
        for count, what in (
            (anonymous_invoices, "paid invoice{s} without a customer"),
            (anonymous, "refund{s} of payments without a customer"),
            (not_invoiced, "refund{s} of payments on no invoice (never counted as paid)"),
        ):
            if count:
                said = what.format(s="s" if count != 1 else "")
                self.notes.append(f"{count} {said} left out of the revenue per customer")
        return days

    def _refunded_share(
        self, refund: dict, charge: dict | None, net_share: dict[str, Fraction | None]
    ) -> Fraction | None:
        """The net-of-tax share of the invoice the refunded payment paid: from the invoices
        read in this run, else looked up by its payment intent (an invoice paid before the
        lookback); None when the payment paid no invoice."""
        intent = refund.get("payment_intent") or (charge or {}).get("payment_intent")
        intent = intent.get("id") if isinstance(intent, dict) else intent
        charge_id = (charge or {}).get("id")
        for key in (intent, charge_id):
            if isinstance(key, str) and key in net_share:
                return net_share[key]
        if not isinstance(intent, str) or not intent:
            return None
        params = {
            "payment": {"type": "payment_intent", "payment_intent": intent},
            "expand": ["data.invoice"],
        }
        listing = self.client.v1.invoice_payments.list
        share = None
        for payment in self._each("GET /v1/invoice_payments", listing, params):
            invoice = payment.get("invoice")
            if isinstance(invoice, dict):
                share = _net_share(invoice)
        net_share[intent] = share
        return share

    def _customer_revenue(
        self, payments: dict[tuple[date, str, str], CustomerDay]
    ) -> list[CustomerRevenue]:
        rows = []
        for (day, customer, currency), bucket in sorted(payments.items()):
            paid = major_units(bucket.paid, currency)
            refunded = major_units(bucket.refunded, currency)
            rows.append(
                CustomerRevenue(
                    day=day,
                    provider="stripe",
                    customer_ref=customer,
                    currency=currency,
                    amount=tidy(paid - refunded, currency),
                    paid=paid,
                    refunded=refunded,
                    invoices=bucket.invoices,
                    refunds=bucket.refunds,
                    sync_run_id=self.sync_run_id,
                )
            )
        return rows

    def _customer_mrr(
        self, today: date, by_customer: dict[tuple[str, str], Revenue]
    ) -> list[CustomerMrr]:
        return [
            CustomerMrr(
                day=today,
                provider="stripe",
                customer_ref=customer,
                currency=currency,
                mrr=major_units(revenue.mrr, currency),
                active_subscriptions=revenue.active,
                trialing_subscriptions=revenue.trialing,
                sync_run_id=self.sync_run_id,
            )
            for (customer, currency), revenue in sorted(by_customer.items())
        ]

    def _snapshots(self, today: date, revenue: dict[str, Revenue]) -> list[RevenueSnapshot]:
        """One snapshot per currency with subscriptions now, or with some at the last snapshot
        (they all churned: MRR 0), or already written today (a re-run must replace it)."""
        earlier = _latest_snapshots_before(today)
        written_today = set(
            RevenueSnapshot.objects.filter(day=today).values_list("currency", flat=True)
        )
        snapshots = []
        for currency in sorted(set(revenue) | set(earlier) | written_today):
            now, previous = revenue.get(currency, Revenue()), earlier.get(currency)
            if currency not in revenue and currency not in written_today and not _counted(previous):
                continue
            mrr = major_units(now.mrr, currency)
            new, churned = self._movement(currency, mrr, previous)
            snapshots.append(
                RevenueSnapshot(
                    day=today,
                    currency=currency,
                    mrr=mrr,
                    active_subscriptions=now.active,
                    trialing_subscriptions=now.trialing,
                    new_mrr=new,
                    churned_mrr=churned,
                    sync_run_id=self.sync_run_id,
                )
            )
        return snapshots

    def _movement(
        self, currency: str, mrr: Decimal, previous: RevenueSnapshot | None
    ) -> tuple[Decimal, Decimal]:
        """New and churned MRR: the net rise or fall since the previous snapshot. The ledger
        keeps totals per currency, not per subscription, so upgrades count as new and
        downgrades as churn."""
        if previous is None:
            self.notes.append(
                f"no earlier revenue snapshot in {currency}: new and churned MRR are counted "
                "from the next snapshot on"
            )
            change = Decimal(0)
        else:
            change = mrr - tidy(previous.mrr, currency)
        return tidy(max(change, Decimal(0)), currency), tidy(max(-change, Decimal(0)), currency)

    # The SDK

    def _each(self, what: str, listing: Callable, params: dict) -> Iterator[dict]:
        """Every object of a Stripe list, as a dict, through the SDK's auto-paging: one page is
        held at a time. A 429 waits and resumes after the last object read."""
        after, attempt, count = None, 0, 0
        while True:
            query = {**params, "limit": PAGE_SIZE}
            if after:
                query["starting_after"] = after
            try:
                page = listing(params=query)
                if not isinstance(page, stripe.ListObject):
                    raise UnexpectedResponse(f"Stripe answered {what} with no list object")
                for obj in page.auto_paging_iter():
                    count += 1
                    if count > MAX_OBJECTS:
                        raise UnexpectedResponse(
                            f"Stripe kept paginating {what} (more than {MAX_OBJECTS} objects)"
                        )
                    data = obj.to_dict()
                    yield data
                    after, attempt = data.get("id"), 0
                return
            except stripe.RateLimitError as error:
                attempt = _wait(what, error, attempt)
            except stripe.StripeError as error:
                raise _collector_error(what, error) from None
            except (AttributeError, KeyError, TypeError, ValueError) as error:
                raise UnexpectedResponse(
                    f"Stripe answered {what} with a list it does not document ({error})"
                ) from None

    def _call(self, what: str, request: Callable, *, missing_ok: bool = False) -> dict | None:
        attempt = 0
        while True:
            try:
                return request().to_dict()
            except stripe.RateLimitError as error:
                attempt = _wait(what, error, attempt)
            except stripe.StripeError as error:
                if missing_ok and error.http_status == 404:
                    return None
                raise _collector_error(what, error) from None


def _wait(what: str, error: stripe.RateLimitError, attempt: int) -> int:
    """Sleep before retrying a 429 (Retry-After if Stripe sent one); fail once out of retries."""
    if attempt >= settings.COLLECTOR_HTTP_RETRIES:
        raise _collector_error(what, error) from None
    http._sleep(http._backoff(attempt, error))  # type: ignore[arg-type]  # has .headers
    return attempt + 1


def _collector_error(what: str, error: stripe.StripeError) -> CollectorError:
    status = error.http_status
    if status in (401, 403) or isinstance(
        error, stripe.AuthenticationError | stripe.PermissionError
    ):
        return CredentialsRejected(PROVIDER, status or 401)
    if isinstance(error, stripe.APIConnectionError):
        # The SDK raises it `from` the requests exception, which names the cause.
        problem = http.request_error_in_words(error, url=settings.STRIPE_API_URL)
        return http.provider_unavailable(PROVIDER, what, problem=problem)
    if isinstance(error, stripe.RateLimitError) or (status or 0) >= 500:
        return http.provider_unavailable(
            PROVIDER, what, status=status or 429, headers=error.headers
        )
    # Parsed here: on a body it cannot parse, the SDK leaves json_body holding the headers.
    if error.http_body and not _is_json(error.http_body):
        return UnexpectedResponse(
            f"Stripe answered {what} with something that is not JSON (HTTP {status})"
        )
    said = (error.user_message or "")[:200]
    if status and status >= 400:
        return ProviderRefused(f"Stripe refused {what}: HTTP {status} {said}".rstrip())
    return UnexpectedResponse(
        f"Stripe answered {what} with something it does not document: {said or 'no message'}"
    )


def _is_json(body: str) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


# Reading Stripe's values


# The ledger


def _latest_snapshots_before(day: date) -> dict[str, RevenueSnapshot]:
    earlier = RevenueSnapshot.objects.filter(day__lt=day)
    currencies = earlier.order_by().values_list("currency", flat=True).distinct()
    return {
        currency: snapshot
        for currency in currencies
        if (snapshot := earlier.filter(currency=currency).order_by("-day").first())
    }


def _counted(snapshot: RevenueSnapshot | None) -> bool:
    return bool(
        snapshot
        and (snapshot.mrr or snapshot.active_subscriptions or snapshot.trialing_subscriptions)
    )


def _fee_figures(fees: dict[tuple[date, str], DayFees]) -> dict[str, Any]:
    processing: dict[str, int] = defaultdict(int)
    product: dict[str, int] = defaultdict(int)
    for (_, currency), day_fees in sorted(fees.items(), key=lambda item: item[0][1]):
        processing[currency] += day_fees.processing
        if day_fees.product_count:
            product[currency] += day_fees.product
    figures: dict[str, Any] = {
        "processing_fees": {c: major_units(m, c) for c, m in processing.items()},
        "balance_transactions": sum(f.processing_count + f.product_count for f in fees.values()),
    }
    if product:
        figures["product_fees"] = {c: major_units(m, c) for c, m in product.items()}
    return figures


def _net_share(invoice: dict) -> Fraction:
    """The part of an invoice's total that is not tax: (total - taxes) / total. Taxes are
    `total_taxes` (API versions from 2025-03-31) or `tax` (before)."""
    total = integer_of(invoice, "total")
    if "total_taxes" in invoice:
        taxes = sum(integer_of(tax, "amount") for tax in invoice["total_taxes"] or ())
    else:
        taxes = invoice.get("tax") or 0
        if isinstance(taxes, bool) or not isinstance(taxes, int):
            raise UnexpectedResponse(f"Stripe answered tax={taxes!r}, not an integer")
    if total <= 0:
        return Fraction(1)
    if not 0 <= taxes <= total:
        raise UnexpectedResponse(
            f"Stripe answered invoice {invoice.get('id')} with taxes of {taxes} on a total of "
            f"{total}"
        )
    return Fraction(total - taxes, total)


def _customer_or_none(obj: dict) -> str | None:
    """The object's customer id, or None when it has none (a guest payment; an invoice of a
    customer held as an account: `customer_account`, which no billing customer links to)."""
    return customer_of(obj) if obj.get("customer") else None


def _payment_ids(invoice: dict) -> list[str]:
    """The payment intents and charges that paid the invoice (its expanded `payments`)."""
    payments = invoice.get("payments")
    listed = (payments.get("data") or []) if isinstance(payments, dict) else []
    ids = []
    for payment in listed:
        made = (payment.get("payment") if isinstance(payment, dict) else None) or {}
        for key in ("payment_intent", "charge"):
            value = made.get(key)
            value = value.get("id") if isinstance(value, dict) else value
            if isinstance(value, str) and value:
                ids.append(value)
    return ids


def _paid_day(invoice: dict) -> date | None:
    paid_at = (invoice.get("status_transitions") or {}).get("paid_at")
    if paid_at is None:
        return None
    if isinstance(paid_at, bool) or not isinstance(paid_at, int):
        raise UnexpectedResponse(f"Stripe answered paid_at={paid_at!r}, not a timestamp")
    return datetime.fromtimestamp(paid_at, UTC).date()


def _per_currency(
    by_customer: dict[tuple[str, str], Revenue], customer_mrr: list[CustomerMrr]
) -> dict[str, Revenue]:
    """The per-currency figures as the sums of the customers' (MRR: of their stored amounts,
    so that a currency's MRR is exactly the sum of its customers' rows)."""
    revenue: dict[str, Revenue] = defaultdict(Revenue)
    for (_, currency), one in by_customer.items():
        revenue[currency].active += one.active
        revenue[currency].trialing += one.trialing
    for row in customer_mrr:
        revenue[row.currency].mrr += Fraction(row.mrr) * 10 ** exponent_of(row.currency)
    return revenue


def _collected_figures(rows: list[CustomerRevenue]) -> dict[str, Any]:
    if not rows:
        return {}
    collected: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        collected[row.currency] += row.amount
    return {
        "collected_from_customers": {c: tidy(a, c) for c, a in sorted(collected.items())},
        "paying_customers": len({row.customer_ref for row in rows}),
    }


def _revenue_figures(snapshots: list[RevenueSnapshot]) -> dict[str, Any]:
    return {
        "mrr": {s.currency: s.mrr for s in snapshots},
        "new_mrr": {s.currency: s.new_mrr for s in snapshots},
        "churned_mrr": {s.currency: s.churned_mrr for s in snapshots},
        "active_subscriptions": sum(s.active_subscriptions for s in snapshots),
        "trialing_subscriptions": sum(s.trialing_subscriptions for s in snapshots),
    }
