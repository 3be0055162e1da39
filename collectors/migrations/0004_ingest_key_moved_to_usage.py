"""IngestKey now lives in the usage app (its migration 0001 takes it over): removed from this
app's state only; the table collectors_ingestkey stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("collectors", "0003_ingest_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="IngestKey",
                ),
            ],
            database_operations=[],
        ),
    ]
