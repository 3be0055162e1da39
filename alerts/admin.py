from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from alerts.budgets import budget_months
from alerts.delivery import channel_test, deliveries_retry
from alerts.models import (
    Alert,
    AlertRule,
    Budget,
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    ReportSend,
    RuleKind,
    ScheduledReport,
    addresses_parse,
    webhook_url_masked,
)
from costledger.admin_site import DecimalInput, money_cell
from costledger.money import exact_text, round_money


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("name", "scope_label", "amount_display", "thresholds", "warn_on_forecast",
                    "months", "this_month", "projection")  # fmt: skip
    list_filter = ("currency", "warn_on_forecast")
    search_fields = ("name",)
    fields = ("name", "scope", "amount", "currency", "thresholds", "warn_on_forecast",
              "effective_from", "effective_until")  # fmt: skip

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "amount" in form.base_fields:
            form.base_fields["amount"].widget = DecimalInput()
        return form

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        today = timezone.now().date()
        self._months = {m.budget.pk: m for m in budget_months(today=today)}
        return changelist

    @admin.display(description="Scope", ordering="scope")
    def scope_label(self, budget):
        return budget.get_scope_display()

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, budget):
        return money_cell(budget.amount, budget.currency)

    @admin.display(description="Months")
    def months(self, budget):
        if budget.effective_until is None:
            return f"from {budget.effective_from:%Y-%m}"
        return f"{budget.effective_from:%Y-%m} to {budget.effective_until:%Y-%m}"

    @admin.display(description="This month so far")
    def this_month(self, budget):
        month = getattr(self, "_months", {}).get(budget.pk)
        if month is None:
            return "not in force"
        if month.actual is None:
            return format_html("<span title='{}'>unknown</span>", "; ".join(month.incomplete))
        spent = exact_text(round_money(month.actual, budget.currency), budget.currency)
        text = f"{spent} {budget.currency} ({month.percent:.1f}%)"
        if month.incomplete:
            return format_html("{} <strong title='{}'>incomplete</strong>", text,
                               "; ".join(month.incomplete))  # fmt: skip
        return text

    @admin.display(description="Month's projection")
    def projection(self, budget):
        month = getattr(self, "_months", {}).get(budget.pk)
        if month is None or month.forecast is None:
            return "—"
        percent = month.forecast * 100 / budget.amount
        spent = exact_text(round_money(month.forecast, budget.currency), budget.currency)
        return f"{spent} {budget.currency} ({percent:.1f}%)"


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "enabled", "factor_text", "minimum_text", "baseline_days")
    list_editable = ("enabled",)
    readonly_fields = ("kind",)

    def get_fields(self, request, obj=None):
        if obj is not None and obj.kind in (RuleKind.SYNC_HEALTH, RuleKind.UNPRICED_USAGE):
            return ("kind", "enabled")  # nothing to tune: on or off
        return ("kind", "enabled", "factor", "minimum_amount", "baseline_days")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        for name in ("factor", "minimum_amount"):
            if name in form.base_fields:
                form.base_fields[name].widget = DecimalInput()
        return form

    @admin.display(description="Factor")
    def factor_text(self, rule):
        return "—" if rule.factor is None else f"{rule.factor.normalize():f}"

    @admin.display(description="Minimum amount")
    def minimum_text(self, rule):
        return money_cell(rule.minimum_amount, settings.REPORTING_CURRENCY)

    def has_add_permission(self, request):
        return False  # one row per rule, made by the migration

    def has_delete_permission(self, request, obj=None):
        return False  # switch a rule off instead


class ChannelForm(forms.ModelForm):
    """The webhook URL is a secret: once saved it is shown masked, and left empty it stays."""

    webhook_url = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 80, "autocomplete": "off"}),
        help_text="The incoming webhook's URL (https://...). Once saved it is shown masked; "
        "leave it empty to keep it, or paste a new one.",
    )

    class Meta:
        model = Channel
        fields = ("name", "kind", "enabled", "addresses", "webhook_url")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved_url = self.instance.webhook_url if self.instance.pk else ""
        self.initial["webhook_url"] = ""
        if self.saved_url:
            self.fields["webhook_url"].widget.attrs["placeholder"] = webhook_url_masked(
                self.saved_url
            )

    def clean_webhook_url(self):
        return self.cleaned_data.get("webhook_url", "").strip() or self.saved_url

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == ChannelKind.EMAIL:
            cleaned["webhook_url"] = ""
            self.instance.webhook_url = ""
        return cleaned


def _addresses_shown(text: str) -> str:
    """The first three addresses, and how many more."""
    addresses = addresses_parse(text)
    more = f" and {len(addresses) - 3} more" if len(addresses) > 3 else ""
    return ", ".join(addresses[:3]) + more


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "kind", "enabled", "target")
    list_filter = ("kind", "enabled")
    actions = ["send_test"]

    @admin.action(description="Send a test message to the selected channels")
    def send_test(self, request, queryset):
        """One small message per channel, now, through the real channel: whether it arrives is
        the test. Nothing is stored."""
        for channel in queryset:
            problem = channel_test(channel)
            if problem:
                self.message_user(request, f"{channel}: failed, {problem}.", messages.ERROR)
            else:
                self.message_user(request, f"{channel}: test message sent.", messages.SUCCESS)

    @admin.display(description="Sends to")
    def target(self, channel):
        if channel.kind == ChannelKind.EMAIL:
            return _addresses_shown(channel.addresses)
        return channel.webhook_url_masked


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("channel", "event", "status", "attempts", "last_error", "sent_at", "next_attempt")
    readonly_fields = fields

    @admin.display(description="Next attempt")
    def next_attempt(self, delivery):
        if delivery.status != DeliveryStatus.PENDING:
            return "—"
        return f"{delivery.next_attempt_at:%Y-%m-%d %H:%M} UTC"

    def has_add_permission(self, request, obj=None):
        return False


MONEY_FIGURES = {"actual", "budget", "forecast", "cost", "limit", "median"}


def _delivery_state(delivery: Delivery) -> str:
    if delivery.status == DeliveryStatus.PENDING and delivery.attempts:
        return f"retrying ({delivery.attempts} failed)"
    return delivery.get_status_display().lower()


class AcknowledgedFilter(admin.SimpleListFilter):
    title = "acknowledged"
    parameter_name = "acknowledged"

    def lookups(self, request, model_admin):
        return [("no", "Not yet"), ("yes", "Acknowledged")]

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(acknowledged_at__isnull=self.value() == "no")
        return queryset


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("fired_at", "rule", "title", "state", "figures_complete", "delivered",
                    "acknowledged")  # fmt: skip
    list_filter = ("rule", "state", "incomplete", AcknowledgedFilter)
    search_fields = ("title", "scope", "message")
    date_hierarchy = "fired_at"
    list_select_related = ("acknowledged_by",)
    actions = ["acknowledge", "retry_failed"]
    inlines = [DeliveryInline]
    readonly_fields = ("rule", "scope", "threshold", "period", "title", "message_text", "page",
                       "figures_table", "figures_complete", "state", "fired_at", "resolved_at",
                       "acknowledged_by", "acknowledged_at")  # fmt: skip
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries__channel")

    def has_add_permission(self, request):
        return False  # alerts are raised by the checks

    def has_delete_permission(self, request, obj=None):
        return False  # the history stays

    def has_change_permission(self, request, obj=None):
        return False  # an alert is read, never edited: the list's "acknowledge" marks it

    def has_acknowledge_permission(self, request):
        """Who may change alerts (Finance, superusers) may acknowledge them."""
        return super().has_change_permission(request)

    @admin.display(description="Message")
    def message_text(self, alert):
        return alert.message

    @admin.display(description="Explained on")
    def page(self, alert):
        return format_html('<a href="{}">{}</a>', alert.link, alert.link) if alert.link else "—"

    @admin.display(description="Figures")
    def figures_table(self, alert):
        """The figures as read: amounts to the currency's minor unit (exact in the API)."""
        currency = alert.figures.get("currency", "")
        rows = []
        for key, value in alert.figures.items():
            if key in MONEY_FIGURES and value is not None and currency:
                value = f"{exact_text(round_money(Decimal(value), currency), currency)} {currency}"
            elif isinstance(value, list):
                value = "; ".join(map(str, value)) or "—"
            rows.append((key.replace("_", " "), "—" if value is None else value))
        return format_html_join(mark_safe("<br>"), "{}: {}", rows) if rows else "—"

    @admin.display(description="Complete")
    def figures_complete(self, alert):
        return "incomplete" if alert.incomplete else "complete"

    @admin.display(description="Notifications")
    def delivered(self, alert):
        deliveries = list(alert.deliveries.all())
        if not deliveries:
            return "no channel"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} {}",
            ((d.channel.name, d.get_event_display().lower(), _delivery_state(d))
             for d in deliveries),
        )  # fmt: skip

    @admin.display(description="Acknowledged", ordering="acknowledged_at")
    def acknowledged(self, alert):
        if not alert.acknowledged_at:
            return "—"
        who = alert.acknowledged_by.get_username() if alert.acknowledged_by else "someone"
        return f"{who}, {alert.acknowledged_at:%Y-%m-%d %H:%M}"

    @admin.action(description="Acknowledge the selected alerts", permissions=["acknowledge"])
    def acknowledge(self, request, queryset):
        count = queryset.filter(acknowledged_at__isnull=True).update(
            acknowledged_by=request.user, acknowledged_at=timezone.now()
        )
        self.message_user(request, f"{count} alert(s) acknowledged.", messages.SUCCESS)

    @admin.action(description="Retry their failed notifications", permissions=["acknowledge"])
    def retry_failed(self, request, queryset):
        """Deliveries given up after the last attempt go back to the queue (their history of
        attempts kept); the next check sends them."""
        count = deliveries_retry(alert_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} notification(s) queued again.", messages.SUCCESS)


class ReportSendInline(admin.TabularInline):
    model = ReportSend
    extra = 0
    can_delete = False
    fields = ("period", "status", "attempts", "last_error", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ScheduledReport)
class ScheduledReportAdmin(admin.ModelAdmin):
    list_display = ("name", "frequency", "recipients_shown", "enabled", "last_sent")
    list_filter = ("frequency", "enabled")
    fields = ("name", "frequency", "recipients", "enabled")
    inlines = [ReportSendInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("sends")

    @admin.display(description="Recipients")
    def recipients_shown(self, report):
        return _addresses_shown(report.recipients)

    @admin.display(description="Last sent")
    def last_sent(self, report):
        sent = [s for s in report.sends.all() if s.sent_at]
        if not sent:
            return "—"
        last = max(sent, key=lambda s: s.sent_at)
        return f"{last.period} on {last.sent_at:%Y-%m-%d %H:%M}"
