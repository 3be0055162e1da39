"""How the shared costs of a month were shared out among customers: the allocation behind every
allocated figure of the Customers report, kept with its rule, basis and ratios so a finance
person can see why a customer carries what it carries."""

from django.db import models

from costledger.models import MONEY, CurrencyField


class AllocationRule(models.TextChoices):
    LLM_COST = "llm_cost", "By share of LLM cost"
    REQUESTS = "requests", "By share of requests"
    EVEN = "even", "Evenly per active customer"


class CostAllocation(models.Model):
    """The shared costs (infrastructure, communications, payments) of the days [start, end] of
    one calendar month, shared out among the customers. `rule` is the setting asked for;
    `applied_rule` what was applied (the even split when nobody had LLM cost or requests).
    Recomputed whenever what it was computed from changes (`fingerprint`)."""

    start = models.DateField()
    end = models.DateField(help_text="Last day, inclusive.")
    rule = models.CharField(max_length=16, choices=AllocationRule.choices)
    applied_rule = models.CharField(max_length=16, choices=AllocationRule.choices)
    currency = CurrencyField()
    shared_cost = models.DecimalField(help_text="Rounded to the minor unit.", **MONEY)
    shared_by_category = models.JSONField(default=dict, help_text="Exact amounts, as text.")
    basis_total = models.DecimalField(max_digits=40, decimal_places=10)
    note = models.TextField(blank=True)
    fingerprint = models.CharField(max_length=64)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.UniqueConstraint(fields=["start", "end"], name="cost_allocation_unique_range"),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="cost_allocation_range"
            ),
        ]

    def __str__(self):
        return f"Shared costs {self.start}..{self.end}: {self.shared_cost} {self.currency}"


class CostAllocationShare(models.Model):
    """One customer's share (no customer: the usage of users no customer holds, "unassigned")."""

    allocation = models.ForeignKey(CostAllocation, on_delete=models.CASCADE, related_name="shares")
    customer = models.ForeignKey(
        "billing.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="cost_shares",
    )
    basis = models.DecimalField(max_digits=40, decimal_places=10)
    ratio = models.DecimalField(max_digits=22, decimal_places=20)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["allocation", "-amount"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation", "customer"],
                nulls_distinct=False,
                name="cost_allocation_share_unique_customer",
            )
        ]

    def __str__(self):
        return f"{self.customer or 'unassigned'}: {self.amount}"
