"""The LLM usage models now live in the usage app (its migration 0001 takes them over): removed
from this app's state only. Their tables stay as they are, names included."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("costledger", "0011_llm_usage_tag_counts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="LlmUsageDaily",
                ),
                migrations.RemoveField(
                    model_name="llmusageevent",
                    name="price",
                ),
                migrations.DeleteModel(
                    name="LlmUsageModelDaily",
                ),
                migrations.DeleteModel(
                    name="LlmUsageTagDaily",
                ),
                migrations.DeleteModel(
                    name="LlmUsageTagKeyDaily",
                ),
                migrations.DeleteModel(
                    name="LlmUsageTagLatest",
                ),
                migrations.DeleteModel(
                    name="LlmUsageTagLatestCount",
                ),
                migrations.DeleteModel(
                    name="LlmUsageUserDaily",
                ),
                migrations.DeleteModel(
                    name="LlmUsageUserLatest",
                ),
                migrations.DeleteModel(
                    name="LlmUsageUserMonth",
                ),
                migrations.DeleteModel(
                    name="UsageUser",
                ),
                migrations.DeleteModel(
                    name="LlmUsageEvent",
                ),
                migrations.DeleteModel(
                    name="ModelPrice",
                ),
            ],
            database_operations=[],
        ),
    ]
