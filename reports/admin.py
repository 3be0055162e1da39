"""The report pages, added to the admin site (which, in the core, imports no app)."""

from django.contrib import admin

from reports import pages

admin.site.register_page("business/", pages.BusinessSummaryPage, "business")
admin.site.register_page("business/csv/<slug:chart>/", pages.BusinessChartCsv, "business_csv")
admin.site.register_page("costs-by-provider/", pages.CostsByProvider, "costs_by_provider")
admin.site.register_page("llm-reconciliation/", pages.LlmReconciliation, "llm_reconciliation")
admin.site.register_report(
    position=10,
    title="Business summary",
    url_name="business",
    text="Revenue, costs and margin; top users, token efficiency, error rates, trends",
)
admin.site.register_report(
    position=20,
    title="Costs by provider",
    url_name="costs_by_provider",
    text="Effective monthly cost per provider, invoices replacing estimates",
)
admin.site.register_report(
    position=40,
    title="LLM cost reconciliation",
    url_name="llm_reconciliation",
    text="Computed LLM cost beside what each provider billed",
)
