from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import DataError, models, transaction
from django.urls import path

from costledger import admin_pages
from costledger.models import CostEntry, CostSource, LlmUsageEvent
from costledger.validators import validate_text

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
    """ModelAdmin mixin: the form field of every text column refuses what validate_text does.
    Django's forms refuse NUL but store U+FFFD as sent, in other apps' text (auth's names,
    django-celery-beat's tasks) as in ours. Fields a form declares itself are not built here:
    auth's passwords, hashed and never stored, are left to auth."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and isinstance(db_field, models.CharField | models.TextField):
            formfield.validators.append(validate_text)
        return formfield


class CostledgerAdminSite(admin.AdminSite):
    site_header = "costledger"
    site_title = "costledger"
    index_title = "Cost ledger"
    index_template = "admin/costledger/index.html"

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
