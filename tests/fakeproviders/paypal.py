"""PayPal's OAuth token and Transaction Search, as documented (fixtures paypal_oauth_token.json,
paypal_transactions.json): on the day searched, a completed payment whose fee was 13.79 USD."""

from tests.fakeproviders.server import Route, fixture


def _transactions(query, day):
    start = query.get("start_date", [f"{day}T00:00:00Z"])[0][:10]
    return fixture("paypal_transactions.json", day=start)


ROUTES = [
    Route("POST", "/paypal/v1/oauth2/token", fixture("paypal_oauth_token.json")),
    Route("GET", "/paypal/v1/reporting/transactions", _transactions),
]
ENV = {
    "PAYPAL_API_URL": "{base}/paypal",
    "PAYPAL_CLIENT_ID": "fake-paypal-client-id",
    "PAYPAL_CLIENT_SECRET": "fake-paypal-client-secret",
}
EXPECTED = {"fees": {"USD": "13.79"}, "transactions": 1}
