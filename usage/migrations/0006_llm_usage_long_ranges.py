"""Long ranges (issue 13): the per-user sums per month that has ended (LlmUsageUserMonthly,
LlmUsageClosedMonth), for the top users of a year; each user's active days as rows
(LlmUsageUserActiveDay) and the count of users and of tag values per active day and next
active day (LlmUsageUserNextDayCount, LlmUsageTagNextDayCount), for the distinct users and
conversations of any range. Kept by v4 of the trigger function on LlmUsageDaily and by new
triggers on LlmUsageTagDaily (usage/sums.py generates both), then filled from what is there:
every month before this one (UTC) is closed.

The writers of the daily and tag sums wait while this runs (a SHARE ROW EXCLUSIVE lock on both
tables): a batch committed between the fill and the new functions would be missed by the new
sums. At 10 million events it holds them about a minute (docs/benchmarks.md)."""

from pathlib import Path

from django.db import migrations, models

SQL = Path(__file__).resolve().parents[1] / "sql"


def sums_add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "LOCK TABLE costledger_llmusagedaily, costledger_llmusagetagdaily "
        "IN SHARE ROW EXCLUSIVE MODE"
    )
    for name in (
        "llm_usage_daily_sums_v4.sql",
        "llm_usage_tag_next_days_v1.sql",
        "llm_usage_tag_next_days_triggers.sql",
        "llm_usage_daily_sums_v4_fill.sql",
    ):
        schema_editor.execute((SQL / name).read_text())


def sums_remove(apps, schema_editor):
    """The function of 0002 again (CREATE OR REPLACE keeps the triggers on it); the tables go
    with the models."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute((SQL / "llm_usage_tag_next_days_drop.sql").read_text())
    schema_editor.execute((SQL / "llm_usage_daily_sums_v3.sql").read_text())


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0005_llm_usage_user_tag_daily"),
    ]

    operations = [
        migrations.CreateModel(
            name="LlmUsageUserMonthly",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField(help_text="The first day of the month.")),
                ("user_id", models.CharField(blank=True, max_length=200)),
                (
                    "source",
                    models.CharField(
                        choices=[("events", "Ingested events"), ("prometheus", "Prometheus")],
                        max_length=16,
                    ),
                ),
                ("rows", models.BigIntegerField(default=0)),
                ("requests", models.BigIntegerField(default=0)),
                ("tokens", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("costed_rows", models.BigIntegerField(default=0)),
                ("unpriced_requests", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "LLM usage per user (monthly)",
                "verbose_name_plural": "LLM usage per user (monthly)",
                "db_table": "costledger_llmusageusermonthly",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("month", "user_id", "source"),
                        name="llm_usage_user_monthly_unique",
                    )
                ],
                "indexes": [
                    models.Index(
                        fields=["month", "source", "-cost"], name="llm_usage_user_monthly_cost"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="LlmUsageClosedMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField(help_text="The first day of the month.", unique=True)),
                ("closed_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "verbose_name": "LLM usage month added up",
                "verbose_name_plural": "LLM usage months added up",
                "db_table": "costledger_llmusageclosedmonth",
            },
        ),
        migrations.CreateModel(
            name="LlmUsageUserActiveDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("user_id", models.CharField(max_length=200)),
                ("day", models.DateField()),
            ],
            options={
                "verbose_name": "LLM active day of a user",
                "verbose_name_plural": "LLM active days of users",
                "db_table": "costledger_llmusageuseractiveday",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user_id", "day"), name="llm_usage_user_active_day"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="LlmUsageUserNextDayCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("next_day", models.DateField(blank=True, null=True)),
                ("users", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "LLM users per active day and next day",
                "verbose_name_plural": "LLM users per active day and next day",
                "db_table": "costledger_llmusageusernextdaycount",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "next_day"),
                        name="llm_usage_user_next_day_count",
                        nulls_distinct=False,
                    )
                ],
                "indexes": [
                    models.Index(fields=["next_day", "day"], name="llm_usage_user_next_day")
                ],
            },
        ),
        migrations.CreateModel(
            name="LlmUsageTagNextDayCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=64)),
                ("day", models.DateField()),
                ("next_day", models.DateField(blank=True, null=True)),
                ("values", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "LLM tag values per day and next day",
                "verbose_name_plural": "LLM tag values per day and next day",
                "db_table": "costledger_llmusagetagnextdaycount",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("key", "day", "next_day"),
                        name="llm_usage_tag_next_day_count",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.AddIndex(
            model_name="llmusagetagdaily",
            index=models.Index(fields=["key", "value", "day"], name="llm_usage_tag_value_days"),
        ),
        migrations.RunPython(sums_add, sums_remove),
    ]
