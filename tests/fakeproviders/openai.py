"""OpenAI's Costs API, as documented (fixture: openai_costs_page.json): one daily bucket with
the documented result, 0.06 dollars for "Image models"."""

from datetime import UTC, datetime, time

from tests.fakeproviders.server import Route, fixture

DAY_SECONDS = 86_400


def _costs(query, day):
    default = int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())
    start = int(query.get("start_time", [default])[0])
    page = fixture("openai_costs_page.json")
    page["data"][0]["start_time"] = start
    page["data"][0]["end_time"] = start + DAY_SECONDS
    return page


ROUTES = [Route("GET", "/openai/v1/organization/costs", _costs)]
ENV = {"OPENAI_API_URL": "{base}/openai", "OPENAI_ADMIN_KEY": "fake-openai-admin-key"}
EXPECTED = {"cost": "0.06", "currency": "USD", "line_items": 1}
