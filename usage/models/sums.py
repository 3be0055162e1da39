"""The daily sums of LLM usage: per (day, user, provider, model) and the tables derived from it
(kept by the trigger and the statements of usage.sums)."""

from django.db import models

from costledger.models import MONEY
from costledger.validators import (
    CurrencyField,
)


class LlmUsageSource(models.TextChoices):
    EVENTS = "events", "Ingested events"
    PROMETHEUS = "prometheus", "Prometheus"


class LlmUsageDaily(models.Model):
    """LLM usage per day, user, provider and model: what the dashboards read (never raw events).

    Token kinds are disjoint: `input_tokens` is uncached input only; cache reads, cache writes
    and reasoning tokens are counted in their own fields, never also in input or output.
    `source` keeps figures from different feeds apart so that one never adds to another.
    """

    day = models.DateField()
    user_id = models.CharField(max_length=200, blank=True)
    provider = models.SlugField(max_length=64, db_index=False)  # (day, provider) serves it
    model = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=LlmUsageSource.choices)
    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cache_read_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    images = models.PositiveBigIntegerField(default=0)
    stream_duration_ms = models.PositiveBigIntegerField(default=0)
    bandwidth_bytes = models.PositiveBigIntegerField(default=0)
    search_units = models.PositiveBigIntegerField(default=0, db_default=0)
    cost = models.DecimalField(null=True, blank=True, **MONEY)
    currency = CurrencyField(default="USD")
    unpriced_requests = models.PositiveBigIntegerField(default=0)
    latency_ms_sum = models.PositiveBigIntegerField(default=0)
    sync_run_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "costledger_llmusagedaily"
        verbose_name = "LLM usage (daily)"
        verbose_name_plural = "LLM usage (daily)"
        ordering = ["-day", "provider", "model"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "user_id", "provider", "model", "source"],
                name="llm_usage_daily_unique",
            )
        ]
        indexes = [models.Index(fields=["day", "provider"])]

    def __str__(self):
        return f"{self.day} {self.user_id or '-'} {self.provider}/{self.model}"


class TagSums(models.Model):
    """What is summed per tag value: the requests that carried it, their cost, and how many of
    them had no price."""

    key = models.CharField(max_length=64)
    value = models.CharField(max_length=200)
    requests = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(default=0, **MONEY)
    unpriced_requests = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class LlmUsageTagDaily(TagSums):
    """Ingested LLM usage per day and tag value, for the tags named in LLM_TAG_KEYS (agent,
    feature, conversation_id): what unit economics read (cost per conversation, per agent)."""

    day = models.DateField()

    class Meta:
        db_table = "costledger_llmusagetagdaily"
        verbose_name = "LLM usage by tag (daily)"
        verbose_name_plural = "LLM usage by tag (daily)"
        constraints = [
            models.UniqueConstraint(fields=["day", "key", "value"], name="llm_usage_tag_unique")
        ]
        indexes = [
            models.Index(fields=["key", "day"]),
            # A value's days in order: its day before and after any day (LlmUsageTagNextDayCount).
            models.Index(fields=["key", "value", "day"], name="llm_usage_tag_value_days"),
        ]

    def __str__(self):
        return f"{self.day} {self.key}={self.value}"


class LlmUsageUserTagDaily(TagSums):
    """Ingested LLM usage per day, user and tag value, for the tags named in LLM_TAG_KEYS but
    `conversation_id`: what a user's page reads (their cost per agent, per feature). A
    conversation belongs to one user already, and would add a row per conversation and day.

    Written with LlmUsageTagDaily, by the ingest statement and the rebuild (usage.sums), on
    both databases. Day first, as the other per-user sums: ingest writes today's rows, and a
    user's range is read with one index probe per day (usage.user_usage)."""

    day = models.DateField()
    user_id = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "costledger_llmusageusertagdaily"
        verbose_name = "LLM usage per user and tag (daily)"
        verbose_name_plural = "LLM usage per user and tag (daily)"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "user_id", "key", "value"], name="llm_usage_user_tag_unique"
            )
        ]

    def __str__(self):
        return f"{self.day} {self.user_id or '-'} {self.key}={self.value}"


class LlmUsageModelDaily(models.Model):
    """LlmUsageDaily summed over users: per day, provider, model and source. What the
    per-model and per-provider figures and the monthly totals read (a dozen rows a day instead
    of one per user).

    Maintained by the PostgreSQL trigger on LlmUsageDaily (usage.sums), in the statement that
    changes it, whoever writes it: ingest, rebuild, the Prometheus collector, the admin. `rows`
    counts the LlmUsageDaily rows summed; `cost` sums their USD costs and `costed_rows` counts
    those, so that "nothing was costed" (None) stays apart from 0. Counters are signed because
    the triggers add differences. Not maintained on SQLite: the selectors read LlmUsageDaily there.
    """

    day = models.DateField()
    provider = models.SlugField(max_length=64, db_index=False)  # the unique key covers it
    model = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=LlmUsageSource.choices)
    rows = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    images = models.BigIntegerField(default=0)
    stream_duration_ms = models.BigIntegerField(default=0)
    bandwidth_bytes = models.BigIntegerField(default=0)
    search_units = models.BigIntegerField(default=0, db_default=0)
    cost = models.DecimalField(default=0, **MONEY)
    costed_rows = models.BigIntegerField(default=0)
    unpriced_requests = models.BigIntegerField(default=0)
    latency_ms_sum = models.BigIntegerField(default=0)

    class Meta:
        db_table = "costledger_llmusagemodeldaily"
        verbose_name = "LLM usage per model (daily)"
        verbose_name_plural = "LLM usage per model (daily)"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "provider", "model", "source"], name="llm_usage_model_daily_unique"
            )
        ]

    def __str__(self):
        return f"{self.day} {self.provider}/{self.model} ({self.source})"


class LlmUsageUserDaily(models.Model):
    """LlmUsageDaily summed over providers and models: per day, user and source. What the top
    users by cost read. Maintained like LlmUsageModelDaily, by the same triggers. `tokens` is
    every kind added up (input, output, cache read and write, reasoning).

    The index on (day, source, -cost) lists each day's users dearest first: the top users of a
    range are found by reading the head of each day's list (usage.selectors)."""

    day = models.DateField()
    user_id = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=16, choices=LlmUsageSource.choices)
    rows = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(default=0, **MONEY)
    costed_rows = models.BigIntegerField(default=0)
    unpriced_requests = models.BigIntegerField(default=0)

    class Meta:
        db_table = "costledger_llmusageuserdaily"
        verbose_name = "LLM usage per user (daily)"
        verbose_name_plural = "LLM usage per user (daily)"
        constraints = [
            # Day first: ingest writes today's rows, which stay in a few pages of the index.
            models.UniqueConstraint(
                fields=["day", "user_id", "source"], name="llm_usage_user_daily_unique"
            )
        ]
        indexes = [
            models.Index(fields=["day", "source", "-cost"], name="llm_usage_user_daily_cost")
        ]

    def __str__(self):
        return f"{self.day} {self.user_id or '-'} ({self.source})"


class LlmUsageUserMonthly(models.Model):
    """LlmUsageUserDaily summed over a calendar month (UTC) that has ended: per month, user and
    source, with the same columns. What the top users of a long range read: a whole month is
    one row per user where the days hold one per user and day (usage.top_users).

    A month is added up once it is over (`llm_usage_months_close`, daily), and from then on
    kept by the trigger on LlmUsageDaily in the statement that changes its days (late events,
    rebuild, re-pricing, the Prometheus collector); pruning raw events leaves it, like every
    sum, as it is. The month in progress, where ingest writes, has no rows: ingest pays nothing
    for it. A month left with no LlmUsageDaily row has no row. Not LlmUsageUserMonth (a user's
    active days as bits).

    The index on (month, source, -cost) lists each month's users dearest first, as
    LlmUsageUserDaily's lists each day's. Not maintained on SQLite."""

    month = models.DateField(help_text="The first day of the month.")
    user_id = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=16, choices=LlmUsageSource.choices)
    rows = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(default=0, **MONEY)
    costed_rows = models.BigIntegerField(default=0)
    unpriced_requests = models.BigIntegerField(default=0)

    class Meta:
        db_table = "costledger_llmusageusermonthly"
        verbose_name = "LLM usage per user (monthly)"
        verbose_name_plural = "LLM usage per user (monthly)"
        constraints = [
            models.UniqueConstraint(
                fields=["month", "user_id", "source"], name="llm_usage_user_monthly_unique"
            )
        ]
        indexes = [
            models.Index(fields=["month", "source", "-cost"], name="llm_usage_user_monthly_cost")
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.user_id or '-'} ({self.source})"


class LlmUsageClosedMonth(models.Model):
    """A calendar month that has ended and whose per-user sums were added up
    (LlmUsageUserMonthly): the trigger on LlmUsageDaily keeps those of closed months only, and
    a range reads a whole month from them only when it is closed (else from its days)."""

    month = models.DateField(unique=True, help_text="The first day of the month.")
    closed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "costledger_llmusageclosedmonth"
        verbose_name = "LLM usage month added up"
        verbose_name_plural = "LLM usage months added up"

    def __str__(self):
        return f"{self.month:%Y-%m}"


class LlmUsageUserMonth(models.Model):
    """The days of a month on which a user had ingested usage (LlmUsageUserDaily rows of the
    events source): bit n-1 of `days` is the n-th of the month. Counting the distinct active
    users of a range reads one row per user and month instead of one per user and day.

    Kept by the trigger on LlmUsageDaily (usage.sums): a bit is set when the user's day row
    is created and cleared when it is removed; a month with no day left has no row. Events
    only, users with an id only. Not maintained on SQLite (the quick start counts day rows)."""

    month = models.DateField(help_text="The first day of the month.")
    user_id = models.CharField(max_length=200)
    days = models.IntegerField()

    class Meta:
        db_table = "costledger_llmusageusermonth"
        verbose_name = "LLM active days per user (monthly)"
        verbose_name_plural = "LLM active days per user (monthly)"
        constraints = [
            models.UniqueConstraint(fields=["month", "user_id"], name="llm_usage_user_month")
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.user_id}"


class LlmUsageUserLatest(models.Model):
    """The latest day on which each user had ingested usage (events, users with an id). While
    no user has a day after a range (the usual case: the range ends today), the users active in
    it are those whose latest day is on or after its start: one index range to count.

    Kept by the trigger on LlmUsageDaily (usage.sums), with LlmUsageUserMonth. Not
    maintained on SQLite."""

    user_id = models.CharField(max_length=200, primary_key=True)
    day = models.DateField(db_index=True)

    class Meta:
        db_table = "costledger_llmusageuserlatest"
        verbose_name = "LLM latest day of usage per user"
        verbose_name_plural = "LLM latest day of usage per user"

    def __str__(self):
        return f"{self.user_id} {self.day}"


class LlmUsageUserActiveDay(models.Model):
    """A day on which a user had ingested usage (a LlmUsageUserDaily row of the events source,
    users with an id): one row per user and day, never updated, in the user's order of days, so
    that the day before and after any day of a user are one index probe away. Kept by the
    trigger on LlmUsageDaily (usage.sums) with LlmUsageUserNextDayCount. Not maintained on
    SQLite."""

    user_id = models.CharField(max_length=200)
    day = models.DateField()

    class Meta:
        db_table = "costledger_llmusageuseractiveday"
        verbose_name = "LLM active day of a user"
        verbose_name_plural = "LLM active days of users"
        constraints = [
            models.UniqueConstraint(fields=["user_id", "day"], name="llm_usage_user_active_day")
        ]

    def __str__(self):
        return f"{self.user_id} {self.day}"


class LlmUsageUserNextDayCount(models.Model):
    """How many users were active on `day` and next active on `next_day` (None: not since): the
    distinct users active over any range [start, end] are those counted on a day of the range
    whose next day is after its end or None, each once (on their last day of the range). A
    range is a few hundred rows to add up, where its user days are hundreds of thousands.

    Kept by the trigger on LlmUsageDaily from LlmUsageUserActiveDay (usage.sums); a count may
    fall to 0 and stay. Not maintained on SQLite."""

    day = models.DateField()
    next_day = models.DateField(null=True, blank=True)
    users = models.BigIntegerField(default=0)

    class Meta:
        db_table = "costledger_llmusageusernextdaycount"
        verbose_name = "LLM users per active day and next day"
        verbose_name_plural = "LLM users per active day and next day"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "next_day"],
                name="llm_usage_user_next_day_count",
                nulls_distinct=False,
            )
        ]
        # Read by next day: the days after a range's end are few (none for a range to date).
        indexes = [models.Index(fields=["next_day", "day"], name="llm_usage_user_next_day")]

    def __str__(self):
        return f"{self.day} -> {self.next_day or '-'}: {self.users}"


class LlmUsageTagLatest(models.Model):
    """The latest day of each tag value in LlmUsageTagDaily (a conversation's last day). While
    no value of a tag has a day after a range (the range ends today), the distinct values of
    the range (its conversations) are those whose latest day is on or after its start.

    Written by the PostgreSQL ingest statement and by the rebuild of the tag rollups, the only
    writers of LlmUsageTagDaily (usage.sums). Not maintained on SQLite."""

    key = models.CharField(max_length=64)
    value = models.CharField(max_length=200)
    day = models.DateField()

    class Meta:
        db_table = "costledger_llmusagetaglatest"
        verbose_name = "LLM latest day per tag value"
        verbose_name_plural = "LLM latest day per tag value"
        constraints = [
            models.UniqueConstraint(fields=["key", "value"], name="llm_usage_tag_latest")
        ]
        indexes = [models.Index(fields=["key", "day"], name="llm_usage_tag_latest_day")]

    def __str__(self):
        return f"{self.key}={self.value} {self.day}"


class LlmUsageTagKeyDaily(models.Model):
    """LlmUsageTagDaily summed over values: per day and tag key, the requests that carry the
    tag and their cost (what "cost per conversation" divides). Written with it."""

    day = models.DateField()
    key = models.CharField(max_length=64)
    requests = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(default=0, **MONEY)
    unpriced_requests = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "costledger_llmusagetagkeydaily"
        verbose_name = "LLM usage per tag key (daily)"
        verbose_name_plural = "LLM usage per tag key (daily)"
        constraints = [
            models.UniqueConstraint(fields=["day", "key"], name="llm_usage_tag_key_daily")
        ]

    def __str__(self):
        return f"{self.day} {self.key}"


class LlmUsageTagLatestCount(models.Model):
    """How many values of a tag have their latest day on each day (LlmUsageTagLatest counted
    per key and day): the distinct values of a range ending today are the sum from its start,
    a row per day instead of one per value. Kept by a trigger on LlmUsageTagLatest (migration
    0011); a count may fall to 0 and stay. Not maintained on SQLite."""

    key = models.CharField(max_length=64)
    day = models.DateField()
    values = models.BigIntegerField(default=0)

    class Meta:
        db_table = "costledger_llmusagetaglatestcount"
        verbose_name = "LLM tag values per latest day"
        verbose_name_plural = "LLM tag values per latest day"
        constraints = [
            models.UniqueConstraint(fields=["key", "day"], name="llm_usage_tag_latest_count")
        ]

    def __str__(self):
        return f"{self.key} {self.day}: {self.values}"


class LlmUsageTagNextDayCount(models.Model):
    """How many values of a tag were used on `day` and next on `next_day` (None: not since), as
    LlmUsageUserNextDayCount counts users: the distinct values of any range (its conversations)
    are those counted on a day of the range whose next day is after its end or None.

    Kept by a trigger on LlmUsageTagDaily (usage.sums), whose index on (key, value, day) finds
    a value's day before and after any day. Not maintained on SQLite."""

    key = models.CharField(max_length=64)
    day = models.DateField()
    next_day = models.DateField(null=True, blank=True)
    values = models.BigIntegerField(default=0)

    class Meta:
        db_table = "costledger_llmusagetagnextdaycount"
        verbose_name = "LLM tag values per day and next day"
        verbose_name_plural = "LLM tag values per day and next day"
        constraints = [
            models.UniqueConstraint(
                fields=["key", "day", "next_day"],
                name="llm_usage_tag_next_day_count",
                nulls_distinct=False,
            )
        ]  # a range's days hold a row or two each: read by day

    def __str__(self):
        return f"{self.key} {self.day} -> {self.next_day or '-'}: {self.values}"
