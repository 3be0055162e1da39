"""A finalized invoice is frozen in the database too (billing/sql/invoice_immutable.sql on
PostgreSQL; the same rules as SQLite triggers for the quick start). Finance enters plans, discounts and
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


AFTER_ISSUE = {"status", "voided_at", "void_reason", "sent_at", "paid_on", "paid_amount",
               "updated_at"}  # fmt: skip
SQLITE_TRIGGERS = ["billing_invoice_insert", "billing_invoice_update", "billing_invoice_delete"] + [
    f"billing_{table}_{event}" for table in ("invoiceline", "invoicetax")
    for event in ("insert", "update", "delete")
]  # fmt: skip


def triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            # Not schema_editor.execute: it would read RAISE's % placeholders as parameters.
            cursor.execute(SQL.read_text())
        elif vendor == "sqlite":
            for statement in _sqlite_triggers(apps):
                cursor.execute(statement)


def _sqlite_triggers(apps) -> list[str]:
    """The same rules for the quick start's SQLite, column by column (it has no row diff)."""
    invoice = apps.get_model("billing", "Invoice")
    frozen = [f.column for f in invoice._meta.concrete_fields if f.name not in AFTER_ISSUE]
    changed = " OR ".join(f'NEW."{column}" IS NOT OLD."{column}"' for column in frozen)
    refuse = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    statements = [
        "CREATE TRIGGER billing_invoice_insert BEFORE INSERT ON billing_invoice "
        "WHEN NEW.status <> 'draft' "
        + refuse.format("a document is created as a draft, then finalized"),
        "CREATE TRIGGER billing_invoice_update BEFORE UPDATE ON billing_invoice "
        "WHEN OLD.status <> 'draft' AND (NEW.status = 'draft' OR (OLD.status = 'void' AND "
        f"NEW.status <> 'void') OR {changed}) "
        + refuse.format("a finalized invoice cannot be changed (issue a credit note, or void it)"),
        "CREATE TRIGGER billing_invoice_delete BEFORE DELETE ON billing_invoice "
        "WHEN OLD.status <> 'draft' " + refuse.format("a finalized invoice cannot be deleted"),
    ]
    for table in ("invoiceline", "invoicetax"):
        for event, rows in (("insert", "NEW"), ("update", "OLD"), ("delete", "OLD")):
            issued = (f"EXISTS (SELECT 1 FROM billing_invoice WHERE id = {rows}.invoice_id "
                      "AND status <> 'draft')")  # fmt: skip
            if event == "update":
                issued += (" OR EXISTS (SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id"
                           " AND status <> 'draft')")  # fmt: skip
            statements.append(
                f"CREATE TRIGGER billing_{table}_{event} BEFORE {event.upper()} ON "
                f"billing_{table} WHEN {issued} "
                + refuse.format("the lines and taxes of an issued invoice cannot change")
            )
    return statements


def triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
    elif schema_editor.connection.vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


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
