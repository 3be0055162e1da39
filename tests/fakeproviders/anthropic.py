"""Anthropic's cost report, as documented (fixture: anthropic_cost_report.json): one daily bucket
with the documented result, "123.78912" cents of Claude Opus 5 input tokens ($1.2378912)."""

from datetime import date, timedelta

from tests.fakeproviders.server import Route, fixture


def _cost_report(query, day):
    start = date.fromisoformat(query.get("starting_at", [day.isoformat()])[0][:10])
    page = fixture(
        "anthropic_cost_report.json",
        starting_at=f"{start}T00:00:00Z",
        ending_at=f"{start + timedelta(days=1)}T00:00:00Z",
    )
    page["has_more"], page["next_page"] = False, None  # one day fits in one page
    return page


ROUTES = [Route("GET", "/anthropic/v1/organizations/cost_report", _cost_report)]
ENV = {"ANTHROPIC_API_URL": "{base}/anthropic", "ANTHROPIC_ADMIN_KEY": "fake-anthropic-admin-key"}
EXPECTED = {"cost": "1.2378912", "currency": "USD", "line_items": 1}
