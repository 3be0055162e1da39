from django.contrib import admin
from django.urls import path

from costledger import admin_pages
from costledger.models import CostEntry, CostSource, LlmUsageEvent


class CostledgerAdminSite(admin.AdminSite):
    site_header = "costledger"
    site_title = "costledger"
    index_title = "Cost ledger"
    index_template = "admin/costledger/index.html"

    def each_context(self, request):
        context = super().each_context(request)
        # Demo rows are tagged by seed_demo; say so on every page rather than let them pass
        # for real figures. Only for logged-in staff: the login page needs no query.
        if request.user.is_active and request.user.is_staff:
            context["has_demo_data"] = CostEntry.objects.filter(tags__demo=True).exists()
            context["has_unpriced_usage"] = LlmUsageEvent.objects.filter(
                cost_source=CostSource.UNPRICED
            ).exists()
        return context

    def get_urls(self):
        pages = [
            path(
                "business/",
                self.admin_view(admin_pages.BusinessSummaryPage.as_view(site=self)),
                name="business",
            ),
            path(
                "business/csv/<slug:chart>/",
                self.admin_view(admin_pages.BusinessChartCsv.as_view(site=self)),
                name="business_csv",
            ),
            path(
                "costs-by-provider/",
                self.admin_view(admin_pages.CostsByProvider.as_view(site=self)),
                name="costs_by_provider",
            ),
            path(
                "llm-unpriced/",
                self.admin_view(admin_pages.LlmUnpriced.as_view(site=self)),
                name="llm_unpriced",
            ),
            path(
                "llm-reconciliation/",
                self.admin_view(admin_pages.LlmReconciliation.as_view(site=self)),
                name="llm_reconciliation",
            ),
        ]
        return pages + super().get_urls()
