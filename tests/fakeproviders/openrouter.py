"""OpenRouter's activity API, as documented (fixture: openrouter_activity.json): the documented
row, 0.015 dollars for 5 requests to openai/gpt-4.1, dated the fake server's day."""

from tests.fakeproviders.server import Route, fixture


def _activity(query, day):
    return fixture("openrouter_activity.json", day=query.get("date", [day.isoformat()])[0])


ROUTES = [Route("GET", "/openrouter/v1/activity", _activity)]
ENV = {"OPENROUTER_API_URL": "{base}/openrouter", "OPENROUTER_API_KEY": "fake-openrouter-key"}
EXPECTED = {"cost": "0.015", "currency": "USD", "models": 1, "requests": "5", "byok_usage": "0.012"}
