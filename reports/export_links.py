"""The download links a report page shows in its period bar (templates/admin/reports/periods.html
reads `exports`: a list of (label, url)), each asking for the period the page shows."""

from django.urls import reverse

# Per report: (label, URL name) of each download, in the order shown.
DOWNLOADS = {
    "business": [
        ("Download XLSX", "business_xlsx"),
        ("KPIs as CSV", "business_kpis_csv"),
    ],
    "costs_by_provider": [
        ("Download CSV", "costs_by_provider_csv"),
        ("Download XLSX", "costs_by_provider_xlsx"),
    ],
    "customers": [
        ("Download CSV", "customers_csv"),
        ("Download XLSX", "customers_xlsx"),
    ],
    "llm_reconciliation": [
        ("Download CSV", "llm_reconciliation_csv"),
        ("Download XLSX", "llm_reconciliation_xlsx"),
    ],
}


def export_links(report: str, query: str) -> list[tuple[str, str]]:
    """The report's downloads for the page's query string (its period, and any option the
    download follows, such as the reconciliation's tolerance). The Business summary also links
    the month-end pack."""
    links = [(label, f"{reverse(f'admin:{name}')}?{query}") for label, name in DOWNLOADS[report]]
    if report == "business":
        links.append(("Month-end pack", reverse("admin:month_end")))
    return links
