"""Per-user tag sums (LlmUsageUserTagDaily), filled from the raw events still kept: the days
already pruned have no per-user tags (their events are gone), as the page says."""

from django.conf import settings
from django.db import migrations, models

TAG_PAIRS = {
    "postgresql": "CROSS JOIN LATERAL jsonb_each_text(e.tags) AS tag",
    "sqlite": "CROSS JOIN json_each(e.tags) AS tag",
}


def fill(apps, schema_editor):
    """The statement usage.sums runs at ingest, as it was written when this table came."""
    keys = [key for key in settings.LLM_TAG_KEYS if key != "conversation_id"]
    connection = schema_editor.connection
    if not keys or connection.vendor not in TAG_PAIRS:
        return
    placeholders = ", ".join(["%s"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO costledger_llmusageusertagdaily "  # noqa: S608 (constants; values are parameters)
            "(day, user_id, key, value, requests, unpriced_requests, cost, updated_at) "
            "SELECT e.day, e.user_id, tag.key, tag.value, count(*), "
            "count(*) FILTER (WHERE e.cost IS NULL), coalesce(sum(e.cost), 0), CURRENT_TIMESTAMP "
            f"FROM costledger_llmusageevent e {TAG_PAIRS[connection.vendor]} "
            f"WHERE tag.key IN ({placeholders}) AND tag.value <> '' "
            "GROUP BY e.day, e.user_id, tag.key, tag.value",
            keys,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0004_pruning_permissions"),
    ]

    operations = [
        migrations.CreateModel(
            name="LlmUsageUserTagDaily",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("user_id", models.CharField(blank=True, max_length=200)),
                ("key", models.CharField(max_length=64)),
                ("value", models.CharField(max_length=200)),
                ("requests", models.PositiveBigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("unpriced_requests", models.PositiveBigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "LLM usage per user and tag (daily)",
                "verbose_name_plural": "LLM usage per user and tag (daily)",
                "db_table": "costledger_llmusageusertagdaily",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "user_id", "key", "value"), name="llm_usage_user_tag_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
