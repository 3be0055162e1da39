from collections.abc import Callable
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import DataError, models, transaction
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html

from costledger.models import CostEntry
from costledger.money import exact_text, plain_text, round_money
from costledger.validators import json_text_load, validate_text

# What a list filter, the date hierarchy or the database raises for a parameter value it cannot
# read. Django turns only some into IncorrectLookupParameters: not the OverflowError of
# `__year=99999999999999999999`, nor a filter's KeyError for a value it does not know, nor the
# DataError of `__regex=(`.
LIST_PARAMETER_ERRORS = (OverflowError, ValueError, KeyError, TypeError, ValidationError, DataError)


class BadParametersRefused:
    """ModelAdmin mixin for the query parameters Django's admin leaves to fail with a 500."""

    def get_changelist_instance(self, request):
        """A list whose query string cannot be read redirects with ?e=1, as Django's own does
        for a lookup it knows to be wrong."""
        try:
            # In a savepoint: after a DataError, PostgreSQL refuses every further query of an
            # enclosing transaction (ATOMIC_REQUESTS, a test) until it is rolled back.
            with transaction.atomic():
                return super().get_changelist_instance(request)
        except LIST_PARAMETER_ERRORS as error:
            raise IncorrectLookupParameters(error) from error

    def get_object(self, request, object_id, from_field=None):
        # `?_to_field=` (empty) skips Django's check of the field, then names no field at all.
        return super().get_object(request, object_id, from_field or None)

    def history_view(self, request, object_id, extra_context=None):
        # django-simple-history's view reads its rows by an id it never checked (`abc` is a
        # ValueError): an id that names no object is redirected as Django's own views do.
        if self.get_object(request, unquote(object_id)) is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return super().history_view(request, object_id, extra_context)


class UnreadableTextRefused:
    """ModelAdmin mixin: the form field of every text column refuses what validate_text does,
    and every date is entered as ISO 8601 (YYYY-MM-DD), never a locale's ambiguous form.
    Django's forms refuse NUL but store U+FFFD as sent, in other apps' text (auth's names,
    django-celery-beat's tasks) as in ours. Fields a form declares itself are not built here:
    auth's passwords, hashed and never stored, are left to auth."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and isinstance(db_field, models.CharField | models.TextField):
            formfield.validators.append(validate_text)
        if isinstance(formfield, forms.DecimalField):
            formfield.widget = DecimalInput(attrs=formfield.widget.attrs)
        if isinstance(formfield, forms.DateField):
            # ISO only: 11/01/2026 is November 1st to some and January 11th to others.
            formfield.input_formats = ["%Y-%m-%d"]
            formfield.error_messages["invalid"] = "Enter the date as YYYY-MM-DD, e.g. 2026-11-01."
        return formfield


class DecimalInput(forms.NumberInput):
    """A stored amount shown for editing as 25.00, not as its column's 25.0000000000."""

    def format_value(self, value):
        if isinstance(value, Decimal) and value.is_finite():
            return plain_text(value)
        return super().format_value(value)


def money_cell(amount: Decimal | None, currency: str) -> str:
    """An amount in an admin list: to the currency's minor unit with thousands separators,
    the exact stored value on hover (exports and the API keep it)."""
    if amount is None:
        return "—"
    rounded = f"{round_money(amount, currency):,}"
    return format_html(
        '<span title="exact: {} {}">{}\u00a0{}</span>',
        exact_text(amount, currency),
        currency,
        rounded,
        currency,
    )


class ReadOnlyLedgerAdmin(admin.ModelAdmin):
    """Ledger rows are written by collectors and invoices only; editing one by hand would be
    overwritten by the next sync. A wrong manual cost is corrected on its provider invoice."""

    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BoundedJSONField(forms.JSONField):
    """Django's JSONField, read with json_text_load: its own json.loads lets RecursionError and
    the ValueError of a 5,000-digit number through (a 500)."""

    def to_python(self, value):
        if self.disabled or not isinstance(value, str) or value in self.empty_values:
            return super().to_python(value)
        return json_text_load(value)

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        # Shown again as typed (Django's marker for that): re-encoded, a "\ud800" escape would
        # become a lone surrogate the page cannot be encoded with.
        return InvalidJSONInput(data)


class CostledgerAdminSite(admin.AdminSite):
    site_header = "costledger"
    site_title = "costledger"
    index_title = "Cost ledger"
    index_template = "admin/costledger/index.html"
    # The index and the breadcrumbs lead everywhere; the sidebar's 300 px are the lists'
    # (a ledger's lists have many columns and must fit a 1400 px screen).
    enable_nav_sidebar = False

    def register(self, model_or_iterable, admin_class=None, **options):
        # Every ModelAdmin gets the mixins here, those of other apps (auth, django-celery-beat)
        # included, so that no admin list or form can be left without them.
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, BadParametersRefused):
            admin_class = type(
                admin_class.__name__,
                (BadParametersRefused, UnreadableTextRefused, admin_class),
                {"__module__": admin_class.__module__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[tuple[str, type, str]] = []
        self._notices: list[Callable[[HttpRequest], dict]] = []
        self._reports: list[tuple[int, str, str, str]] = []

    def register_page(self, route: str, view: type, name: str) -> None:
        """Add a page (a class-based view with a `site` attribute) at /admin/<route>, named
        `admin:<name>`. The apps add their pages from their admin.py, so that the site, in
        the core, imports none of them."""
        self._pages.append((route, view, name))

    def register_report(self, *, position: int, title: str, url_name: str, text: str) -> None:
        """List a page in the index's Reports box, by `position` (smallest first)."""
        self._reports.append((position, title, url_name, text))

    def index(self, request, extra_context=None):
        reports = [
            {"title": title, "url": reverse(f"{self.name}:{url_name}"), "text": text}
            for _, title, url_name, text in sorted(self._reports)
        ]
        return super().index(request, {**(extra_context or {}), "reports": reports})

    def register_notice(self, notice: Callable[[HttpRequest], dict]) -> None:
        """Add to every staff page's context what `notice(request)` returns (a banner's flag)."""
        self._notices.append(notice)

    def each_context(self, request):
        context = super().each_context(request)
        # Demo rows are tagged by seed_demo; say so on every page rather than let them pass
        # for real figures. Only for logged-in staff: the login page needs no query.
        if request.user.is_active and request.user.is_staff:
            context["has_demo_data"] = CostEntry.objects.filter(tags__demo=True).exists()
            for notice in self._notices:
                context.update(notice(request))
        return context

    def get_urls(self):
        pages = [
            path(route, self.admin_view(view.as_view(site=self)), name=name)
            for route, view, name in self._pages
        ]
        return pages + super().get_urls()
