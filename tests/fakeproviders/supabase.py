"""Supabase's auth admin and Management APIs, as documented (fixtures: supabase_*.json).

Four users, two of whom signed in during the fake day's month (MAU 2); a Pro organization; a
Micro compute add-on (covered by the Pro compute credit) and a dedicated IPv4 ($4/month); an
18 GB disk (10 GB over the 8 included, $1.25/month). For 2026-11-20 (30 days in November):
plan 25/30 -> 0.83, disk 1.25/30 -> 0.04, IPv4 4/30 -> 0.13; 1.00 for the day, 30.25 a month.
"""

from calendar import monthrange
from datetime import date, timedelta
from decimal import Decimal

from costledger.money import split_evenly
from tests.fakeproviders.server import Route, fixture

REF = "abcdefghijklmnopqrst"
ORG = "tsrqponmlkjihgfedcba"
CREATED_AT = "2026-02-03T09:14:51.889371Z"  # the fixture user's created_at


def users_page(sign_ins: list[str | None], first: int = 0) -> dict:
    """A page of GET /auth/v1/admin/users with one user per last sign-in (None: never)."""
    page = {"aud": "authenticated", "users": []}
    for n, signed_in in enumerate(sign_ins, start=first):
        user = fixture(
            "supabase_admin_users.json",
            id=f"00000000-0000-4000-8000-{n:012d}",
            email=f"user{n}@example.com",
            last_sign_in_at=signed_in or CREATED_AT,
        )["users"][0]
        if signed_in is None:
            del user["last_sign_in_at"]  # GoTrue omits it for users who never signed in
        page["users"].append(user)
    return page


def _users(query, day: date) -> dict:
    if query.get("page", ["1"])[0] != "1":
        return users_page([])
    last_month = day.replace(day=1) - timedelta(days=3)
    return users_page(
        [
            f"{day.isoformat()}T08:01:02.123456Z",
            f"{day.replace(day=1).isoformat()}T00:00:00Z",
            f"{last_month.isoformat()}T23:59:59.999999Z",
            None,
        ]
    )


API = f"/supabase-api/v1/projects/{REF}"
ROUTES = [
    Route("GET", "/supabase/auth/v1/admin/users", _users),
    Route("GET", API, fixture("supabase_project.json")),
    Route("GET", f"/supabase-api/v1/organizations/{ORG}", fixture("supabase_organization.json")),
    Route("GET", f"{API}/billing/addons", fixture("supabase_billing_addons.json")),
    Route("GET", f"{API}/config/disk", fixture("supabase_disk.json")),
    Route("GET", f"{API}/config/disk/util", fixture("supabase_disk_util.json")),
]
ENV = {
    "SUPABASE_URL": "{base}/supabase",
    "SUPABASE_KEY": "fake-supabase-service-role-key",
    "SUPABASE_API_URL": "{base}/supabase-api",
    "SUPABASE_ACCESS_TOKEN": "sbp_fake-supabase-access-token",
    "SUPABASE_PROJECT_REF": REF,
}
EXPECTED = {
    "mau": 2,
    "users_total": 4,
    "plan": "pro",
    "disk_size_gb": 18,
    "estimate": "1.00",  # on a day of a 30-day month, as DAY is: see `expected_on`
    "estimate_monthly": "30.250",
}


MONTHLY_LINES = [Decimal("25"), Decimal("1.25"), Decimal("4")]  # plan, disk, IPv4


def expected_on(day: date) -> dict:
    """EXPECTED for a sync of `day`: each line's month is spread over the month's days."""
    days = monthrange(day.year, day.month)[1]
    estimate = sum(split_evenly(line, "USD", days)[day.day - 1] for line in MONTHLY_LINES)
    return {**EXPECTED, "estimate": str(estimate)}
