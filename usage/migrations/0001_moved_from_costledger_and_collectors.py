"""The LLM usage models, taken over from the ledger core (costledger 0012) and the collectors
(IngestKey, collectors 0004) into this app's state, on the tables they already have (`db_table`):
no data moves. Their content types follow them, so that permissions given to groups and the
admin's history keep pointing at them."""

import costledger.validators
import django.db.models.deletion
from django.db import migrations, models

MOVED = {
    "costledger": [
        "llmusagedaily", "modelprice", "llmusageevent", "usageuser", "llmusagetagdaily",
        "llmusagemodeldaily", "llmusageuserdaily", "llmusageusermonth", "llmusageuserlatest",
        "llmusagetaglatest", "llmusagetagkeydaily", "llmusagetaglatestcount",
    ],
    "collectors": ["ingestkey"],
}  # fmt: skip


def content_types_move(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, models_moved in MOVED.items():
        ContentType.objects.filter(app_label=app_label, model__in=models_moved).update(
            app_label="usage"
        )


def content_types_return(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, models_moved in MOVED.items():
        ContentType.objects.filter(app_label="usage", model__in=models_moved).update(
            app_label=app_label
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("costledger", "0012_usage_models_moved_to_usage"),
        ("collectors", "0004_ingest_key_moved_to_usage"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IngestKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "name",
                            models.CharField(
                                help_text="Who uses it, e.g. 'backend'.",
                                max_length=100,
                                unique=True,
                            ),
                        ),
                        ("prefix", models.CharField(editable=False, max_length=16, unique=True)),
                        ("key_hash", models.CharField(editable=False, max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "created_by",
                            models.CharField(blank=True, editable=False, max_length=150),
                        ),
                        (
                            "last_used_at",
                            models.DateTimeField(blank=True, editable=False, null=True),
                        ),
                        ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                    ],
                    options={
                        "verbose_name": "usage ingest API key",
                        "db_table": "collectors_ingestkey",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageUserLatest",
                    fields=[
                        (
                            "user_id",
                            models.CharField(max_length=200, primary_key=True, serialize=False),
                        ),
                        ("day", models.DateField(db_index=True)),
                    ],
                    options={
                        "verbose_name": "LLM latest day of usage per user",
                        "verbose_name_plural": "LLM latest day of usage per user",
                        "db_table": "costledger_llmusageuserlatest",
                    },
                ),
                migrations.CreateModel(
                    name="UsageUser",
                    fields=[
                        (
                            "user_id",
                            models.CharField(max_length=200, primary_key=True, serialize=False),
                        ),
                        ("email", models.EmailField(blank=True, max_length=254)),
                        ("refreshed_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "db_table": "costledger_usageuser",
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageDaily",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField()),
                        ("user_id", models.CharField(blank=True, max_length=200)),
                        ("provider", models.SlugField(db_index=False, max_length=64)),
                        ("model", models.CharField(max_length=200)),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("events", "Ingested events"),
                                    ("prometheus", "Prometheus"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("requests", models.PositiveBigIntegerField(default=0)),
                        ("errors", models.PositiveBigIntegerField(default=0)),
                        ("input_tokens", models.PositiveBigIntegerField(default=0)),
                        ("output_tokens", models.PositiveBigIntegerField(default=0)),
                        ("cache_read_tokens", models.PositiveBigIntegerField(default=0)),
                        ("cache_write_tokens", models.PositiveBigIntegerField(default=0)),
                        ("reasoning_tokens", models.PositiveBigIntegerField(default=0)),
                        (
                            "cost",
                            models.DecimalField(
                                blank=True, decimal_places=10, max_digits=24, null=True
                            ),
                        ),
                        (
                            "currency",
                            costledger.validators.CurrencyField(default="USD", max_length=3),
                        ),
                        ("unpriced_requests", models.PositiveBigIntegerField(default=0)),
                        ("latency_ms_sum", models.PositiveBigIntegerField(default=0)),
                        ("sync_run_id", models.BigIntegerField(blank=True, null=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "verbose_name": "LLM usage (daily)",
                        "verbose_name_plural": "LLM usage (daily)",
                        "db_table": "costledger_llmusagedaily",
                        "ordering": ["-day", "provider", "model"],
                        "indexes": [
                            models.Index(
                                fields=["day", "provider"], name="costledger__day_3156f4_idx"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("day", "user_id", "provider", "model", "source"),
                                name="llm_usage_daily_unique",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageModelDaily",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField()),
                        ("provider", models.SlugField(db_index=False, max_length=64)),
                        ("model", models.CharField(max_length=200)),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("events", "Ingested events"),
                                    ("prometheus", "Prometheus"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("rows", models.BigIntegerField(default=0)),
                        ("requests", models.BigIntegerField(default=0)),
                        ("errors", models.BigIntegerField(default=0)),
                        ("input_tokens", models.BigIntegerField(default=0)),
                        ("output_tokens", models.BigIntegerField(default=0)),
                        ("cache_read_tokens", models.BigIntegerField(default=0)),
                        ("cache_write_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("costed_rows", models.BigIntegerField(default=0)),
                        ("unpriced_requests", models.BigIntegerField(default=0)),
                        ("latency_ms_sum", models.BigIntegerField(default=0)),
                    ],
                    options={
                        "verbose_name": "LLM usage per model (daily)",
                        "verbose_name_plural": "LLM usage per model (daily)",
                        "db_table": "costledger_llmusagemodeldaily",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("day", "provider", "model", "source"),
                                name="llm_usage_model_daily_unique",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageTagDaily",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField()),
                        ("key", models.CharField(max_length=64)),
                        ("value", models.CharField(max_length=200)),
                        ("requests", models.PositiveBigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("unpriced_requests", models.PositiveBigIntegerField(default=0)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "verbose_name": "LLM usage by tag (daily)",
                        "verbose_name_plural": "LLM usage by tag (daily)",
                        "db_table": "costledger_llmusagetagdaily",
                        "indexes": [
                            models.Index(fields=["key", "day"], name="costledger__key_f88785_idx")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("day", "key", "value"), name="llm_usage_tag_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageTagKeyDaily",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField()),
                        ("key", models.CharField(max_length=64)),
                        ("requests", models.PositiveBigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("unpriced_requests", models.PositiveBigIntegerField(default=0)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "verbose_name": "LLM usage per tag key (daily)",
                        "verbose_name_plural": "LLM usage per tag key (daily)",
                        "db_table": "costledger_llmusagetagkeydaily",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("day", "key"), name="llm_usage_tag_key_daily"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageTagLatest",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("key", models.CharField(max_length=64)),
                        ("value", models.CharField(max_length=200)),
                        ("day", models.DateField()),
                    ],
                    options={
                        "verbose_name": "LLM latest day per tag value",
                        "verbose_name_plural": "LLM latest day per tag value",
                        "db_table": "costledger_llmusagetaglatest",
                        "indexes": [
                            models.Index(fields=["key", "day"], name="llm_usage_tag_latest_day")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("key", "value"), name="llm_usage_tag_latest"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageTagLatestCount",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("key", models.CharField(max_length=64)),
                        ("day", models.DateField()),
                        ("values", models.BigIntegerField(default=0)),
                    ],
                    options={
                        "verbose_name": "LLM tag values per latest day",
                        "verbose_name_plural": "LLM tag values per latest day",
                        "db_table": "costledger_llmusagetaglatestcount",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("key", "day"), name="llm_usage_tag_latest_count"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageUserDaily",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField()),
                        ("user_id", models.CharField(blank=True, max_length=200)),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("events", "Ingested events"),
                                    ("prometheus", "Prometheus"),
                                ],
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
                        "verbose_name": "LLM usage per user (daily)",
                        "verbose_name_plural": "LLM usage per user (daily)",
                        "db_table": "costledger_llmusageuserdaily",
                        "indexes": [
                            models.Index(
                                fields=["day", "source", "-cost"], name="llm_usage_user_daily_cost"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("day", "user_id", "source"),
                                name="llm_usage_user_daily_unique",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageUserMonth",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("month", models.DateField(help_text="The first day of the month.")),
                        ("user_id", models.CharField(max_length=200)),
                        ("days", models.IntegerField()),
                    ],
                    options={
                        "verbose_name": "LLM active days per user (monthly)",
                        "verbose_name_plural": "LLM active days per user (monthly)",
                        "db_table": "costledger_llmusageusermonth",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("month", "user_id"), name="llm_usage_user_month"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ModelPrice",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("provider", models.SlugField(max_length=64)),
                        ("model", models.CharField(max_length=200)),
                        ("effective_from", models.DateField()),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("genai-prices", "genai-prices (bundled)"),
                                    ("admin", "Entered in the admin"),
                                ],
                                default="admin",
                                max_length=16,
                            ),
                        ),
                        (
                            "currency",
                            costledger.validators.CurrencyField(default="USD", max_length=3),
                        ),
                        (
                            "input_mtok",
                            models.DecimalField(
                                blank=True, decimal_places=8, max_digits=18, null=True
                            ),
                        ),
                        (
                            "output_mtok",
                            models.DecimalField(
                                blank=True, decimal_places=8, max_digits=18, null=True
                            ),
                        ),
                        (
                            "cache_read_mtok",
                            models.DecimalField(
                                blank=True, decimal_places=8, max_digits=18, null=True
                            ),
                        ),
                        (
                            "cache_write_mtok",
                            models.DecimalField(
                                blank=True, decimal_places=8, max_digits=18, null=True
                            ),
                        ),
                        (
                            "per_request",
                            models.DecimalField(
                                blank=True, decimal_places=8, max_digits=18, null=True
                            ),
                        ),
                        (
                            "per_image",
                            models.DecimalField(
                                blank=True, decimal_places=8, max_digits=18, null=True
                            ),
                        ),
                        ("tiers", models.JSONField(blank=True, default=dict)),
                        ("notes", models.TextField(blank=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "db_table": "costledger_modelprice",
                        "ordering": ["provider", "model", "-effective_from"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("provider", "model", "effective_from", "source"),
                                name="model_price_unique_from",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LlmUsageEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("event_id", models.CharField(max_length=200)),
                        ("timestamp", models.DateTimeField()),
                        ("day", models.DateField()),
                        ("user_id", models.CharField(blank=True, max_length=200)),
                        ("provider", models.SlugField(db_index=False, max_length=64)),
                        ("model", models.CharField(max_length=200)),
                        ("input_tokens", models.PositiveBigIntegerField(default=0)),
                        ("output_tokens", models.PositiveBigIntegerField(default=0)),
                        ("cache_read_tokens", models.PositiveBigIntegerField(default=0)),
                        ("cache_write_tokens", models.PositiveBigIntegerField(default=0)),
                        ("reasoning_tokens", models.PositiveBigIntegerField(default=0)),
                        ("images", models.PositiveIntegerField(default=0)),
                        ("is_error", models.BooleanField(default=False)),
                        ("error_type", models.CharField(blank=True, max_length=100)),
                        ("latency_ms", models.PositiveIntegerField(blank=True, null=True)),
                        ("tags", models.JSONField(blank=True, default=dict)),
                        (
                            "cost",
                            models.DecimalField(
                                blank=True, decimal_places=10, max_digits=24, null=True
                            ),
                        ),
                        (
                            "currency",
                            costledger.validators.CurrencyField(default="USD", max_length=3),
                        ),
                        (
                            "cost_source",
                            models.CharField(
                                choices=[
                                    ("provider", "Reported by the provider"),
                                    ("price_book", "Price book"),
                                    ("unpriced", "Unpriced"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "ingest_key",
                            models.CharField(
                                blank=True, help_text="Name of the API key.", max_length=100
                            ),
                        ),
                        ("received_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "price",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="usage.modelprice",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "LLM usage event",
                        "db_table": "costledger_llmusageevent",
                        "ordering": ["-timestamp"],
                        "indexes": [
                            models.Index(
                                fields=["day", "provider", "model"],
                                name="costledger__day_46824e_idx",
                            ),
                            models.Index(
                                condition=models.Q(("cost_source", "unpriced")),
                                fields=["day"],
                                name="llm_usage_event_unpriced",
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("event_id",), name="llm_usage_event_id")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_move, content_types_return),
    ]
