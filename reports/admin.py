"""The report pages, added to the admin site (which, in the core, imports no app)."""

from django.contrib import admin

from reports import customers, downloads, drilldown, focus, pages, user_page

admin.site.register_page("business/", pages.BusinessSummaryPage, "business")
admin.site.register_page("business/csv/<slug:chart>/", pages.BusinessChartCsv, "business_csv")
admin.site.register_page("costs-by-provider/", pages.CostsByProvider, "costs_by_provider")
admin.site.register_page("llm-reconciliation/", pages.LlmReconciliation, "llm_reconciliation")
admin.site.register_page("customers/", customers.CustomersPage, "customers")
admin.site.register_page("customers/csv/", customers.CustomersCsv, "customers_csv")
admin.site.register_page("customers/xlsx/", customers.CustomersXlsx, "customers_xlsx")
# Downloads (reports/downloads.py): the same parameters as their page.
admin.site.register_page("business/xlsx/", downloads.BusinessXlsx, "business_xlsx")
admin.site.register_page("business/kpis-csv/", downloads.BusinessKpisCsv, "business_kpis_csv")
admin.site.register_page(
    "costs-by-provider/csv/", downloads.CostsByProviderCsv, "costs_by_provider_csv"
)
admin.site.register_page(
    "costs-by-provider/xlsx/", downloads.CostsByProviderXlsx, "costs_by_provider_xlsx"
)
admin.site.register_page(
    "llm-reconciliation/csv/", downloads.LlmReconciliationCsv, "llm_reconciliation_csv"
)
admin.site.register_page(
    "llm-reconciliation/xlsx/", downloads.LlmReconciliationXlsx, "llm_reconciliation_xlsx"
)
admin.site.register_page("month-end/", downloads.MonthEndPage, "month_end")
admin.site.register_page("month-end/xlsx/", downloads.MonthEndXlsx, "month_end_xlsx")
# One user's usage: ?user_id=<id> (any characters, "" for usage without one) and the period.
admin.site.register_page("user-usage/", user_page.UserUsagePage, "user_usage")
admin.site.register_page("user-usage/csv/<slug:table>/", user_page.UserUsageCsv, "user_usage_csv")
admin.site.register_page("user-usage/xlsx/", user_page.UserUsageXlsx, "user_usage_xlsx")
# The cost entries that make a Costs by provider cell: ?provider=&start=&end= (or month=).
admin.site.register_page("costs-by-provider/cell/", drilldown.CostCell, "cost_cell")
admin.site.register_page("costs-by-provider/cell/csv/", drilldown.CostCellCsv, "cost_cell_csv")
admin.site.register_page("costs-by-provider/cell/xlsx/", drilldown.CostCellXlsx, "cost_cell_xlsx")
# The cost ledger over a report period as a FOCUS 1.2 CSV, for FinOps tools.
admin.site.register_page("costs-by-provider/focus/", focus.FocusCsv, "focus_csv")
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
    position=30,
    title="Customers",
    url_name="customers",
    text="Revenue, LLM cost, allocated shared cost and margin per customer",
)
admin.site.register_report(
    position=40,
    title="LLM cost reconciliation",
    url_name="llm_reconciliation",
    text="Computed LLM cost beside what each provider billed",
)
admin.site.register_report(
    position=60,
    title="Month-end pack",
    url_name="month_end",
    text="One XLSX with every report for a month, for the accountant",
)
