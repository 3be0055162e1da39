import pytest
from django.contrib.auth.models import Group, User
from django.db import connection


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
