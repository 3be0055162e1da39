"""The trigger function in the newest versioned SQL file is the one usage/sums.py generates, and
it is the one the database runs: a change to the counted quantities cannot be forgotten there."""

import re
from pathlib import Path

from django.db import connection

from usage.sums import (
    TAG_TRIGGER_FUNCTIONS,
    TAG_TRUNCATED,
    TRIGGER_FUNCTION,
    tag_trigger_functions,
    trigger_function,
)

SQL = Path(__file__).resolve().parents[2] / "usage" / "sql"


def _newest(name: str = "llm_usage_daily_sums") -> Path:
    versions = {}
    for path in SQL.glob(f"{name}_v*.sql"):
        if found := re.fullmatch(rf"{name}_v(\d+)\.sql", path.name):
            versions[int(found[1])] = path
    return versions[max(versions)]


def test_the_newest_sql_file_is_what_the_sums_generate():
    assert _newest().read_text() == trigger_function(), (
        "usage/sums.py changed: save `manage.py usage_sums_sql` as the next "
        "usage/sql/llm_usage_daily_sums_vN.sql and run it from a migration."
    )


def test_the_database_runs_the_newest_function(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [TRIGGER_FUNCTION])
        (source,) = cursor.fetchone()
    assert source.strip() in _newest().read_text()


def test_the_newest_tag_functions_are_what_the_sums_generate_and_what_the_database_runs(db):
    newest = _newest("llm_usage_tag_next_days").read_text()
    assert newest == tag_trigger_functions(), (
        "usage/sums.py changed: save `manage.py usage_sums_sql --tags` as the next "
        "usage/sql/llm_usage_tag_next_days_vN.sql and run it from a migration."
    )
    for name in [*TAG_TRIGGER_FUNCTIONS, TAG_TRUNCATED]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [name])
            (source,) = cursor.fetchone()
        assert source.strip() in newest, name
