"""PayPal: the fees PayPal kept, per day and currency, as `payments` costs, from the Transaction
Search API (GET /v1/reporting/transactions).

Authentication is OAuth 2.0 client credentials: POST /v1/oauth2/token with PAYPAL_CLIENT_ID and
PAYPAL_CLIENT_SECRET as basic auth gives an access token, sent as a bearer token (once per run).
PAYPAL_API_URL is https://api-m.paypal.com, or https://api-m.sandbox.paypal.com for the sandbox.

Each transaction's `transaction_info.fee_amount` is what PayPal kept (a negative value, "-0.64")
or gave back (positive, on a refund that returns part of the fee); the cost of a day is minus
their sum, per currency, by the UTC day of `transaction_initiation_date` (PayPal writes it in the
account's time zone, with its offset). Transactions count when their status is S (completed) or
V (reversed: the fee of a payment later reversed was still charged; the reversal is its own
transaction, carrying any fee given back); P (pending) and D (denied) are left out, their fee is
not charged (yet). A payment still pending when its day is last synced is therefore counted only
by a later run for that day (`sync_metrics --only paypal --date DAY`). The quantity of a row is
the number of counted transactions with a fee other than zero.

Only balance-affecting records are searched (`balance_affecting_records_only=Y`, PayPal's
default, asked explicitly): PayPal may list a transaction id twice, once as a non-balance-affecting
record, and that copy must not count its fee again. A search covers at most 31 days and pages of
at most 500 transactions (`page`, `total_pages`); a longer window is cut into searches of 31
days. PayPal makes a transaction searchable up to three hours after it happens: the daily sync
(02:15 UTC by default) reads yesterday before PayPal may have listed its last hours, so a day
that has ended whose data PayPal had not refreshed to its end (`last_refreshed_datetime`) gets a
note saying so and what to re-run.
https://developer.paypal.com/docs/api/transaction-search/v1/
"""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from collectors.base import Collector, CollectResult, ConnectionProbe, SyncWindow
from collectors.errors import UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require, time_of
from costledger.models import CostEntry, Source
from costledger.money import is_currency
from costledger.providers import Category
from costledger.services import cost_entries_replace_days

PROVIDER = "PayPal"
TOKEN_PATH = "/v1/oauth2/token"
TRANSACTIONS_PATH = "/v1/reporting/transactions"
PAGE_SIZE = 500  # the most PayPal gives in one page
MAX_SEARCH_DAYS = 31  # the longest range one search may cover
CHARGED_STATUSES = ("S", "V")
SERVICE = "transaction fees"


class PayPalHTTP(ProviderHTTP):
    """PayPal's API with an OAuth access token, fetched on the first request and sent as a
    bearer token on every request after it (never logged, never in an error)."""

    def request(self, method: str, path: str, **kwargs):
        if "Authorization" not in self.session.headers:
            self.session.headers["Authorization"] = f"Bearer {self._access_token()}"
        return super().request(method, path, **kwargs)

    def _access_token(self) -> str:
        oauth = ProviderHTTP(
            PROVIDER,
            self.base_url,
            auth=(settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET),
            timeout=self.timeout,
            retries=self.retries,
        )
        body = oauth.request_json("POST", TOKEN_PATH, data={"grant_type": "client_credentials"})
        token = require(body, "access_token", provider=PROVIDER)
        if not isinstance(token, str) or not token or not token.isprintable():
            raise UnexpectedResponse(f"{PROVIDER} answered {TOKEN_PATH} without a usable token")
        return token


class PayPalCollector(Collector):
    name = "paypal"
    provider_name = PROVIDER
    required_settings = ("PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET")
    optional_settings = ("PAYPAL_API_URL",)
    address_settings = ("PAYPAL_API_URL",)

    def provider_http(self, **options) -> ProviderHTTP:
        return PayPalHTTP(PROVIDER, settings.PAYPAL_API_URL, **options)

    def connection_probe(self) -> ConnectionProbe:
        # The smallest search the sync makes: the last day, one transaction per page.
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        return ConnectionProbe(
            TRANSACTIONS_PATH,
            expect="transaction_details",
            params={**_range(yesterday, yesterday + timedelta(days=1)), "page_size": 1},
            refused_hint="The app needs the Transaction Search permission (in the PayPal "
            "developer dashboard)",
        )

    def collect(self, window: SyncWindow) -> CollectResult:
        self.http = self.provider_http()
        self.refreshed: datetime | None = None
        fees: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
        counts: dict[tuple[date, str], int] = defaultdict(int)
        read = 0
        for transaction in self._transactions(window):
            read += 1
            info = require(transaction, "transaction_info", provider=PROVIDER)
            status = info.get("transaction_status")
            fee = info.get("fee_amount")
            if status not in CHARGED_STATUSES or not fee:
                continue
            day = _day_of(info)
            if not window.start <= day < window.end:
                continue
            currency, amount = _money(fee)
            if not amount:
                continue
            fees[(day, currency)] -= amount
            counts[(day, currency)] += 1
        entries = [
            self._entry(day, currency, amount, counts[(day, currency)])
            for (day, currency), amount in sorted(fees.items())
        ]
        rows = cost_entries_replace_days(
            start=window.start,
            end=window.end,
            entries=entries,
            provider="paypal",
            source=Source.API,
        )
        total: dict[str, Decimal] = defaultdict(Decimal)
        for (_, currency), amount in fees.items():
            total[currency] += amount
        return CollectResult(
            rows_written=rows,
            figures={"fees": dict(sorted(total.items())), "transactions": read},
            notes=self._late_notes(window),
        )

    def _transactions(self, window: SyncWindow):
        """Every transaction of the window: searches of at most 31 days, each page by page."""
        start = window.start
        while start < window.end:
            end = min(start + timedelta(days=MAX_SEARCH_DAYS), window.end)
            params = {
                **_range(start, end),
                "fields": "transaction_info",
                "balance_affecting_records_only": "Y",
                "page_size": PAGE_SIZE,
            }
            page, pages = 1, 1
            while page <= pages:
                body = self.http.get_json(TRANSACTIONS_PATH, params={**params, "page": page})
                details = require(body, "transaction_details", provider=PROVIDER)
                if not isinstance(details, list):
                    raise UnexpectedResponse(
                        f"{PROVIDER} answered transaction_details={type(details).__name__}, "
                        "not a list"
                    )
                self._note_refreshed(body)
                yield from details
                pages = _count(body.get("total_pages", 1), "total_pages")
                if pages > 10_000:
                    raise UnexpectedResponse(f"{PROVIDER} answered total_pages={pages}")
                page += 1
            start = end

    def _note_refreshed(self, body: dict) -> None:
        """Keep the earliest `last_refreshed_datetime` answered: how far PayPal's data went."""
        value = body.get("last_refreshed_datetime")
        if value is None:
            return
        refreshed = time_of(value, field="last_refreshed_datetime", provider=PROVIDER)
        self.refreshed = refreshed if self.refreshed is None else min(self.refreshed, refreshed)

    def _late_notes(self, window: SyncWindow) -> list[str]:
        """The days of the window that have ended but that PayPal had not listed to their end.
        Today is left out: every collector's today is only so far."""
        if self.refreshed is None:
            return []
        now, second = timezone.now(), timedelta(seconds=1)
        ends = {day: _midnight(day + timedelta(days=1)) for day in window.days()}
        late = [day for day, end in ends.items() if end <= now and self.refreshed < end - second]
        if not late:
            return []
        days = ", ".join(day.isoformat() for day in late)
        command = f"--date {late[0]}" if len(late) == 1 else f"--since {late[0]} --until {late[-1]}"
        return [
            f"PayPal had listed transactions up to {self.refreshed:%Y-%m-%d %H:%M} UTC (it lists "
            f"them up to three hours late): fees of {days} after that are not in yet; run "
            f"`manage.py sync_metrics --only paypal {command}` again later"
        ]

    def _entry(self, day: date, currency: str, amount: Decimal, count: int) -> CostEntry:
        return CostEntry(
            provider="paypal",
            service=SERVICE,
            category=Category.PAYMENTS,
            charge_period_start=day,
            charge_period_end=day + timedelta(days=1),
            billed_cost=amount,
            currency=currency,
            quantity=Decimal(count),
            unit="transactions",
            source=Source.API,
            reference=currency,  # one row per currency: a day can settle in several
            sync_run_id=self.sync_run_id,
            raw={"currency_code": currency, "transactions": count, "fees": str(-amount)},
        )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def _range(start: date, end: date) -> dict[str, str]:
    """A search of the UTC days [start, end): PayPal takes the end as the last second."""
    last = _midnight(end) - timedelta(seconds=1)
    return {
        "start_date": f"{start.isoformat()}T00:00:00Z",
        "end_date": last.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _day_of(info: dict) -> date:
    value = require(info, "transaction_initiation_date", provider=PROVIDER)
    return time_of(value, field="transaction_initiation_date", provider=PROVIDER).date()


def _money(money: dict) -> tuple[str, Decimal]:
    if not isinstance(money, dict):
        raise UnexpectedResponse(f"{PROVIDER} answered fee_amount={money!r}, not an amount")
    currency = str(require(money, "currency_code", provider=PROVIDER)).upper()
    if not is_currency(currency):
        raise UnexpectedResponse(f"{PROVIDER} answered currency_code={currency!r}, not a currency")
    value = require(money, "value", provider=PROVIDER)
    amount = decimal_of(value, field="fee_amount.value", provider=PROVIDER)
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 12:
        raise UnexpectedResponse(f"{PROVIDER} answered fee_amount.value={value!r}")
    return currency, amount


def _count(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnexpectedResponse(f"{PROVIDER} answered {field}={value!r}, not a count")
    return value
