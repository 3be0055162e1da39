"""The trigger function of the per-model and per-user sums, now generated from the one list of
counted quantities (usage/sums.py) and stored as usage/sql/llm_usage_daily_sums_v3.sql. It sums
what v2 summed: only the way it is written changed."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parents[1] / "sql"


def sql_run(name: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute((SQL / name).read_text())

    return run


class Migration(migrations.Migration):
    dependencies = [("usage", "0001_moved_from_costledger_and_collectors")]

    operations = [
        migrations.RunPython(
            sql_run("llm_usage_daily_sums_v3.sql"), sql_run("llm_usage_daily_sums_v2.sql")
        ),
    ]
