from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CostledgerConfig(AppConfig):
    default = True
    name = "costledger"
    verbose_name = "Ledger"
    default_auto_field = "django.db.models.BigAutoField"


class CostledgerAdminConfig(admin_apps.AdminConfig):
    """The Django admin, with our site: it adds the summary pages to the admin's URLs."""

    default = False
    default_site = "costledger.admin_site.CostledgerAdminSite"
