"""The report pages, added to the admin site (which, in the core, imports no app)."""

from django.contrib import admin

from reports import pages

admin.site.register_page("business/", pages.BusinessSummaryPage, "business")
admin.site.register_page("business/csv/<slug:chart>/", pages.BusinessChartCsv, "business_csv")
admin.site.register_page("costs-by-provider/", pages.CostsByProvider, "costs_by_provider")
admin.site.register_page("llm-reconciliation/", pages.LlmReconciliation, "llm_reconciliation")
