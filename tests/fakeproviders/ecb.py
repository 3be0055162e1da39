"""The ECB's euro reference rates feed, as documented (fixture: ecb_eurofxref_hist_90d.xml).

The fake publishes the day asked and the two before it, whatever their weekday, so that a run
of any day finds its rates.
"""

from datetime import timedelta

from tests.fakeproviders.server import Route, fixture

PATH = "/ecb/stats/eurofxref/eurofxref-hist-90d.xml"


def _feed(query, day):
    return fixture(
        "ecb_eurofxref_hist_90d.xml",
        day0=day,
        day1=day - timedelta(days=1),
        day2=day - timedelta(days=2),
    )


ROUTES = [Route("GET", PATH, _feed, content_type="text/xml")]
ENV = {"ECB_RATES_URL": "{base}" + PATH}
# Not the currencies: they are what the ledger holds, which other collectors running beside it
# (the Celery test) may be writing at the same time.
EXPECTED = {"days_published": 1}
