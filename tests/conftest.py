from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from usage.keys import ingest_key_create
from usage.models import ModelPrice


@pytest.fixture(autouse=True, scope="session")
def _postgresql_only(django_db_setup, django_db_blocker):
    """The suite runs against real PostgreSQL, never SQLite (make test sets DATABASE_URL)."""
    if connection.vendor != "postgresql":
        pytest.exit(
            "The tests need PostgreSQL: run `make test`, or set DATABASE_URL to a PostgreSQL "
            f"database (got {connection.vendor}).",
            returncode=2,
        )


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff_user(db):
    return User.objects.create_user("staffer", password="pw", is_staff=True)


def _member(username: str, group: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def finance_user(db):
    return _member("finance", "Finance")


@pytest.fixture
def viewer_user(db):
    return _member("viewer", "Viewer")


@pytest.fixture
def finance_client(client, finance_user):
    client.force_login(finance_user)
    return client


@pytest.fixture
def gpt4o(db):
    """OpenAI's gpt-4o at its list price: 2.50 in, 10 out, 1.25 cache read per million."""
    return ModelPrice.objects.create(
        provider="openai", model="gpt-4o", effective_from=date(2024, 1, 1),
        input_mtok=Decimal("2.5"), output_mtok=Decimal("10"), cache_read_mtok=Decimal("1.25"),
    )  # fmt: skip


@pytest.fixture
def key(db):
    """A usage ingest API key, as the client presents it."""
    return ingest_key_create(name="backend")[1]
