"""A finalized invoice is frozen in the database too (billing/sql/invoice_immutable.sql, on
PostgreSQL; the quick start's SQLite relies on the model). Finance enters plans, discounts and
uptimes and issues invoices; Viewer looks."""

from pathlib import Path

from django.contrib.auth.management import create_permissions
from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql" / "invoice_immutable.sql"
MODELS = ["plan", "plancharge", "slacredittier", "discount", "slauptime", "invoice",
          "invoiceline", "invoicetax"]  # fmt: skip
DROP = """
DROP TRIGGER IF EXISTS billing_invoice_immutable ON billing_invoice;
DROP TRIGGER IF EXISTS billing_invoiceline_immutable ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoicetax_immutable ON billing_invoicetax;
DROP FUNCTION IF EXISTS billing_invoice_immutable();
DROP FUNCTION IF EXISTS billing_invoice_part_immutable();
"""


def triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # Not schema_editor.execute: it would read RAISE's % placeholders as parameters.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(SQL.read_text())


def triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


def roles(apps, schema_editor):
    app_config = apps.get_app_config("billing")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permission(codename):
        return Permission.objects.get(content_type__app_label="billing", codename=codename)

    viewer, _ = Group.objects.get_or_create(name="Viewer")
    finance, _ = Group.objects.get_or_create(name="Finance")
    read = [permission(f"view_{model}") for model in MODELS]
    viewer.permissions.add(*read)
    finance.permissions.add(
        *read,
        *(permission(f"{a}_{m}") for m in MODELS for a in ("add", "change", "delete")),
        permission("finalize_invoice"),
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_plans_discounts_uptime_invoices")]

    operations = [
        migrations.RunPython(triggers, triggers_drop),
        migrations.RunPython(roles, migrations.RunPython.noop),
    ]
