"""Twilio's Usage Records, as documented (fixture: twilio_usage_records_daily.json)."""

from tests.fakeproviders.server import Route, fixture

SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
PRICE, SMS, MMS = "2.19285", "412", "8"


def _records(query, day):
    category = query["Category"][0]
    start = query.get("StartDate", [day.isoformat()])[0]
    price = PRICE if category == "totalprice" else "0"
    count = {"sms-outbound": SMS, "mms-outbound": MMS}.get(category, "0")
    return fixture(
        "twilio_usage_records_daily.json",
        category=category,
        day=start,
        price=price,
        count=count,
        count_unit="messages",
        usage=count,
        usage_unit="messages",
        description=category,
    )


ROUTES = [Route("GET", f"/twilio/2010-04-01/Accounts/{SID}/Usage/Records/Daily.json", _records)]
ENV = {
    "TWILIO_API_URL": "{base}/twilio",
    "TWILIO_ACCOUNT_SID": SID,
    "TWILIO_AUTH_TOKEN": "fake-twilio-token",
}
EXPECTED = {"messages_sent": "420", "cost": PRICE}
