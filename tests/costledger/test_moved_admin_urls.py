# ruff: noqa: E501 (the old and new addresses side by side read best on one line)
"""The admin pages of the usage models answer at their old addresses too (issue 12 moved them
from the ledger core and the collectors to the usage app)."""

import pytest


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/admin/costledger/llmusageevent/?cost=unpriced", "/admin/usage/llmusageevent/?cost=unpriced"),
        ("/admin/costledger/modelprice/12/change/", "/admin/usage/modelprice/12/change/"),
        ("/admin/costledger/llmusagedaily/?user_id=u%201", "/admin/usage/llmusagedaily/?user_id=u%201"),
        ("/admin/collectors/ingestkey/add/", "/admin/usage/ingestkey/add/"),
    ],
)  # fmt: skip  # noqa: E501
def test_an_old_address_redirects_to_the_same_page_in_the_usage_app(admin_client, old, new):
    response = admin_client.get(old)
    assert (response.status_code, response["Location"]) == (301, new)


def test_the_core_and_the_collectors_keep_their_own_pages(admin_client):
    assert admin_client.get("/admin/costledger/costentry/").status_code == 200
    assert admin_client.get("/admin/collectors/syncrun/").status_code == 200
    assert admin_client.get("/admin/usage/llmusageevent/").status_code == 200
