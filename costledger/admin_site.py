from django.contrib import admin
from django.urls import path

from costledger import admin_pages


class CostledgerAdminSite(admin.AdminSite):
    site_header = "costledger"
    site_title = "costledger"
    index_title = "Cost ledger"
    index_template = "admin/costledger/index.html"

    def get_urls(self):
        pages = [
            path(
                "costs-by-provider/",
                self.admin_view(admin_pages.CostsByProvider.as_view(site=self)),
                name="costs_by_provider",
            ),
        ]
        return pages + super().get_urls()
