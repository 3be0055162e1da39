"""What billing keeps: provider invoices typed in by hand, and our own customer billing
(customers, plans, discounts, SLA uptimes, tax rates, invoices)."""

from billing.models.customers import (
    COUNTRY_CHOICES,
    MAX_PAYMENT_TERMS_DAYS,
    STRIPE_CUSTOMER_ID,
    Customer,
    CustomerUser,
    Discount,
    DiscountDuration,
    DiscountKind,
    SlaUptime,
    TaxRate,
    plain_rate,
    vat_number_problem,
)
from billing.models.invoices import (
    AFTER_ISSUE,
    DocumentKind,
    FinalizedDocument,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
    InvoiceStatus,
    InvoiceTax,
    LineKind,
    PaymentStatus,
    period_of,
)
from billing.models.margins import AllocationRule, CostAllocation, CostAllocationShare
from billing.models.plans import (
    METRIC_COUNTED,
    METRIC_UNITS,
    Metric,
    Plan,
    PlanCharge,
    SlaCreditTier,
)
from billing.models.provider_invoices import (
    ATTACHMENT_SIGNATURES,
    MAX_ATTACHMENT_BYTES,
    MAX_INVOICE_DAYS,
    InvoiceKind,
    ProviderInvoice,
    provider_invoices_overlapping,
    validate_attachment,
)

__all__ = [
    "AFTER_ISSUE", "ATTACHMENT_SIGNATURES", "AllocationRule", "CostAllocation",
    "CostAllocationShare", "COUNTRY_CHOICES", "MAX_ATTACHMENT_BYTES",
    "MAX_INVOICE_DAYS", "MAX_PAYMENT_TERMS_DAYS", "METRIC_COUNTED", "METRIC_UNITS",
    "STRIPE_CUSTOMER_ID", "Customer", "CustomerUser", "Discount", "DiscountDuration",
    "DiscountKind", "DocumentKind", "FinalizedDocument", "Invoice", "InvoiceKind", "InvoiceLine",
    "InvoiceNumberSequence", "InvoiceStatus", "InvoiceTax", "LineKind", "Metric", "PaymentStatus",
    "Plan", "PlanCharge", "ProviderInvoice", "SlaCreditTier", "SlaUptime", "TaxRate",
    "period_of", "plain_rate", "provider_invoices_overlapping",
    "validate_attachment", "vat_number_problem",
]  # fmt: skip
