"""A database populated at the layout before issue 12 (LLM usage in the ledger core, ingest keys
in the collectors) migrates to the usage app without moving data: every row is read back through
the new models, the triggers keep summing, and what groups were allowed they still are."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

# The last migration of each app on main before the move.
BEFORE_THE_MOVE = [
    ("costledger", "0011_llm_usage_tag_counts"),
    ("collectors", "0003_ingest_keys"),
    ("billing", "0002_finance_and_viewer_groups"),
]
DAY = date(2026, 11, 20)


def _populate(old) -> dict:
    """Rows written as the old code wrote them: a price, a costed event, its daily sum (which
    the triggers sum per model and per user), a user's email, an ingest key."""
    price = old.get_model("costledger", "ModelPrice").objects.create(
        provider="openai", model="gpt-4o", effective_from=date(2024, 1, 1), input_mtok=2.5
    )
    old.get_model("costledger", "LlmUsageEvent").objects.create(
        event_id="e1", timestamp=datetime(2026, 11, 20, 9, tzinfo=UTC), day=DAY, user_id="u1",
        provider="openai", model="gpt-4o", input_tokens=1000, cost=Decimal("0.0025"),
        cost_source="price_book", price=price,
    )  # fmt: skip
    old.get_model("costledger", "LlmUsageDaily").objects.create(
        day=DAY, user_id="u1", provider="openai", model="gpt-4o", source="events", requests=1,
        input_tokens=1000, cost=Decimal("0.0025"),
    )  # fmt: skip
    old.get_model("costledger", "UsageUser").objects.create(user_id="u1", email="a@example.com")
    # In SQL: the migrator applies every migration that comes before the last target in
    # Django's plan, collectors 0004 (IngestKey out of the collectors' state) among them.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO collectors_ingestkey (name, prefix, key_hash, created_at, created_by) "
            "VALUES ('backend', '0123abcd', %s, now(), '')",
            ["f" * 64],
        )
    content_type = old.get_model("contenttypes", "ContentType").objects.get(
        app_label="costledger", model="llmusageevent"
    )
    return {"price": price.pk, "content_type": content_type.pk}


def _drop_functions() -> None:
    """The migrator's clean start drops tables, not the trigger functions the migrations made."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(oid::regprocedure::text, ', ') FROM pg_proc "
            "WHERE pronamespace = 'public'::regnamespace AND prolang = "
            "(SELECT oid FROM pg_language WHERE lanname = 'plpgsql')"
        )
        functions = cursor.fetchone()[0]
        if functions:
            cursor.execute(f"DROP FUNCTION {functions} CASCADE")


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_old_layout_migrates_to_the_usage_app_keeping_every_row(
    migrator_factory,
):
    migrator = migrator_factory()
    _drop_functions()
    old = migrator.apply_initial_migration(BEFORE_THE_MOVE).apps
    before = _populate(old)

    new = migrator.apply_tested_migration(MigrationLoader(connection).graph.leaf_nodes()).apps

    event = new.get_model("usage", "LlmUsageEvent").objects.get(event_id="e1")
    assert (event.price_id, event.cost, event.input_tokens) == (before["price"], Decimal("0.0025"), 1000)  # fmt: skip  # noqa: E501
    per_model = new.get_model("usage", "LlmUsageModelDaily").objects.get(day=DAY)
    assert (per_model.requests, per_model.cost) == (1, Decimal("0.0025"))
    assert new.get_model("usage", "UsageUser").objects.get(user_id="u1").email == "a@example.com"
    assert new.get_model("usage", "IngestKey").objects.get().prefix == "0123abcd"
    # The content type moved with the model (same id): permissions and history follow it.
    content_type = new.get_model("contenttypes", "ContentType").objects.get(pk=before["content_type"])  # fmt: skip  # noqa: E501
    assert content_type.app_label == "usage"
    viewer = new.get_model("auth", "Group").objects.get(name="Viewer")
    assert viewer.permissions.filter(
        content_type__app_label="usage", codename="view_llmusageevent"
    ).exists()
    assert (
        not new.get_model("contenttypes", "ContentType")
        .objects.filter(app_label="costledger", model__startswith="llmusage")
        .exists()
    )

    # The triggers still keep the sums on the tables they always had: a new day row adds up.
    daily = new.get_model("usage", "LlmUsageDaily")
    daily.objects.create(
        day=DAY, user_id="u2", provider="openai", model="gpt-4o", source="events", requests=2,
        cost=Decimal("1"),
    )  # fmt: skip
    per_model = new.get_model("usage", "LlmUsageModelDaily").objects.get(day=DAY)
    assert (per_model.requests, per_model.cost) == (3, Decimal("1.0025"))
