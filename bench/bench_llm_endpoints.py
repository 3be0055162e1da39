"""The LLM usage JSON endpoints on 10 million events over 2 years and 100,000 users.

Each endpoint must answer in under 200 ms (median) and at least 50x faster than the same figure
computed from the raw events.

Data, generated inside PostgreSQL (INSERT ... SELECT over generate_series, seeded, so every run
draws the same data):
- 100,000 users. Activity is heavy-tailed: the user of activity rank r (0 = most active) weighs
  (r + 1)^-0.7, so the top 1% make about a quarter of the events and the median user ~50.
  Users sign up over the two years, more later (signup day = 730 * sqrt(u), a growing product),
  and stay active 14 days + 730 * u^2 days (median about 200 days), some past today; a user's
  events fall uniformly in the part of that lifetime within the two years.
- 10,000,000 events in time order (ids are time-ordered, like ULIDs), as the ingest API would
  have stored them. 12 models of 6 providers: each user has a favourite model (75% of their
  requests), the rest drawn by popularity. Tokens: input 100 + 2,500 * u^2, output
  10 + 1,000 * u^3, cache reads on 35% of requests of models with a cache price, cache writes
  on 10% (Anthropic), reasoning tokens on o3 and gemini-2.5-pro. 1 to 5% errors per model
  (no tokens, cost 0). Costs are exact (tokens x the model's price per million, a price-book
  row); one OpenRouter model has provider-reported costs and one model has no price at all
  (~1% of requests, stored unpriced: cost NULL).
- The sums are then built from the events by `llm_usage_rebuild` of every day (the statements
  of usage/sums.py the ingest runs); the trigger fills the per-model and per-user sums from
  them. Then VACUUM ANALYZE.

Measurement: each endpoint through Django's test Client in this process (URL routing, the
bearer-token check, the selectors, JSON encoding: all but the socket), with its default range
(the last 30 days; the monthly summary: the last 6 months), the median of 20 requests after 2
warm-ups. The raw figure is the equivalent SQL over LlmUsageEvent on the same connection,
median of 5 after a warm-up; its results are compared with the endpoint's, which must be equal.

    .venv/bin/python bench/bench_llm_endpoints.py [--events 10000000] [--users 100000]
        [--keep-data]   # reuse the data of the previous run (skips the ~4 min of generation)
"""

import argparse
import threading
import time
import warnings
from decimal import Decimal

import psycopg
from common import BENCH_DB, PG, django_setup, fresh_database, median
from psycopg import sql

DAYS = 730
TOKEN = "bench-sync-token"
TARGET_MS = 200
TARGET_SPEEDUP = 50
EVENT_TABLE = "costledger_llmusageevent"

# (provider, model, popularity, $/Mtok input, output, cache read, cache write, reasons,
#  error rate, costing)
MODELS = [
    ("openai", "gpt-4o-mini", 30, "0.15", "0.60", "0.075", None, False, 0.010, "price_book"),
    ("openai", "gpt-4o", 14, "2.50", "10", "1.25", None, False, 0.012, "price_book"),
    ("openai", "gpt-4.1", 8, "2", "8", "0.50", None, False, 0.012, "price_book"),
    ("openai", "o3", 4, "2", "8", "0.50", None, True, 0.020, "price_book"),
    ("anthropic", "claude-haiku-4-5", 10, "1", "5", "0.10", "1.25", False, 0.015, "price_book"),
    ("anthropic", "claude-sonnet-4-5", 12, "3", "15", "0.30", "3.75", False, 0.020, "price_book"),
    ("anthropic", "claude-opus-4-1", 2, "15", "75", "1.50", "18.75", False, 0.025, "price_book"),
    ("google", "gemini-2.5-flash", 8, "0.30", "2.50", "0.075", None, False, 0.030, "price_book"),
    ("google", "gemini-2.5-pro", 4, "1.25", "10", "0.31", None, True, 0.030, "price_book"),
    ("mistral", "mistral-large-latest", 3, "2", "6", None, None, False, 0.015, "price_book"),
    ("openrouter", "meta-llama/llama-3.3-70b-instruct", 4, "0.13", "0.40", None, None, False,
     0.040, "provider"),
    ("together", "acme/support-ft-8b", 1, None, None, None, None, False, 0.050, "unpriced"),
]  # fmt: skip

SETUP = """
SELECT setseed(0.42);
CREATE UNLOGGED TABLE bench_models (
    idx int PRIMARY KEY, provider text, model text, weight float8, p_in numeric, p_out numeric,
    p_cr numeric, p_cw numeric, reasons bool, err float8, costing text,
    cum_lo float8, price_id bigint);
INSERT INTO bench_models (idx, provider, model, weight, p_in, p_out, p_cr, p_cw, reasons, err,
    costing)
SELECT n - 1, provider, model, weight, p_in, p_out, p_cr, p_cw, reasons, err, costing
FROM unnest(%(provider)s::text[], %(model)s::text[], %(weight)s::float8[],
    %(p_in)s::numeric[], %(p_out)s::numeric[], %(p_cr)s::numeric[], %(p_cw)s::numeric[],
    %(reasons)s::bool[], %(err)s::float8[], %(costing)s::text[]) WITH ORDINALITY AS m(provider,
    model, weight, p_in, p_out, p_cr, p_cw, reasons, err, costing, n);
UPDATE bench_models m SET cum_lo = s.lo FROM (SELECT idx, (sum(weight) OVER (ORDER BY idx)
    - weight) / sum(weight) OVER () AS lo FROM bench_models) s WHERE s.idx = m.idx;
INSERT INTO costledger_modelprice (provider, model, effective_from, source, currency,
    input_mtok, output_mtok, cache_read_mtok, cache_write_mtok, tiers, notes, updated_at)
SELECT provider, model, current_date - 1000, 'genai-prices', 'USD', p_in, p_out, p_cr, p_cw,
    '{}', '', now() FROM bench_models WHERE costing = 'price_book';
UPDATE bench_models m SET price_id = p.id FROM costledger_modelprice p
WHERE p.provider = m.provider AND p.model = m.model;

-- Users by activity rank: signup day, lifetime, and how many of their events fall in the two
-- years (the rank weight times the share of the lifetime within them, rounded so that the
-- counts add up to exactly %(events)s).
CREATE UNLOGGED TABLE bench_users AS
SELECT r, user_id, favourite, signup, visible_end,
    (floor(%(events)s * cum / total) - floor(%(events)s * (cum - w) / total))::int AS n
FROM (
    SELECT *, sum(w) OVER (ORDER BY r) AS cum, sum(w) OVER () AS total
    FROM (
        SELECT r, user_id, favourite, signup, least(signup + life, %(days)s) AS visible_end,
            (r + 1) ^ -0.7 * (least(signup + life, %(days)s) - signup) / life AS w
        FROM (
            SELECT r, md5('bench-user-' || r)::uuid::text AS user_id,
                %(days)s * sqrt(random()) AS signup, 14 + %(days)s * random() ^ 2 AS life,
                width_bucket(random(), (SELECT array_agg(cum_lo ORDER BY idx)
                                        FROM bench_models)) - 1 AS favourite
            FROM generate_series(0, %(users)s - 1) AS r
        ) drawn
    ) weighted
) counted;
ALTER TABLE bench_users ADD PRIMARY KEY (r);
INSERT INTO costledger_usageuser (user_id, email, refreshed_at)
SELECT user_id, CASE WHEN r %% 10 <> 0 THEN 'user' || r || '@example.com' ELSE '' END, now()
FROM bench_users;

-- Every event's user and time, numbered in time order.
CREATE UNLOGGED TABLE bench_keys AS
SELECT (row_number() OVER (ORDER BY t) - 1)::int AS i, r, t
FROM (SELECT u.r, u.signup + (u.visible_end - u.signup) * random() AS t
      FROM bench_users u, generate_series(1, u.n)) AS drawn;
ANALYZE bench_models, bench_users, bench_keys;
"""

# One slice [lo, hi) of the events, in time order.
EVENTS = """
SELECT setseed(%(seed)s);
INSERT INTO costledger_llmusageevent (event_id, timestamp, day, user_id, provider, model,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, images,
    is_error, error_type, latency_ms, tags, cost, currency, cost_source, price_id, ingest_key,
    received_at)
SELECT 'evt_' || lpad(to_hex(i), 8, '0'), ts, (ts AT TIME ZONE 'UTC')::date, user_id, provider,
    model, input, output, cache_read, cache_write, reasoning, 0, is_error,
    CASE WHEN is_error THEN (ARRAY['rate_limit', 'timeout', 'server_error'])[1 + i %% 3]
         ELSE '' END,
    latency,
    jsonb_build_object('feature', (ARRAY['chat', 'search', 'summarize', 'agent'])[1 + r %% 4],
                       'conversation_id', 'conv_' || to_hex(r) || '_' || floor(t * 24)),
    CASE WHEN costing <> 'unpriced' THEN (input * p_in + output * p_out
        + cache_read * coalesce(p_cr, 0) + cache_write * coalesce(p_cw, 0)
        + reasoning * p_out) / 1000000 END,
    'USD', costing, price_id, 'backend', ts + interval '2 seconds'
FROM (
    SELECT k.i, k.r, k.t, %(start)s::timestamptz + k.t * interval '1 day' AS ts, u.user_id,
        m.provider, m.model, m.p_in, m.p_out, m.p_cr, m.p_cw, m.costing, m.price_id,
        k.r_err < m.err AS is_error, 200 + floor(6000 * k.r6 ^ 2)::int AS latency,
        CASE WHEN k.r_err < m.err THEN 0 ELSE 100 + floor(2500 * k.r1 ^ 2) END::bigint AS input,
        CASE WHEN k.r_err < m.err THEN 0 ELSE 10 + floor(1000 * k.r4 ^ 3) END::bigint AS output,
        CASE WHEN k.r_err >= m.err AND m.p_cr IS NOT NULL AND k.r2 < 0.35
             THEN floor(4000 * k.r3 ^ 2) ELSE 0 END::bigint AS cache_read,
        CASE WHEN k.r_err >= m.err AND m.p_cw IS NOT NULL AND k.r2 >= 0.35 AND k.r2 < 0.45
             THEN floor(2000 * k.r3) ELSE 0 END::bigint AS cache_write,
        CASE WHEN k.r_err >= m.err AND m.reasons THEN floor(3000 * k.r5 ^ 2) ELSE 0 END::bigint
            AS reasoning
    FROM (SELECT *, random() AS r_model, random() AS r_pick, random() AS r_err,
              random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
              random() AS r6
          FROM bench_keys WHERE i >= %(lo)s AND i < %(hi)s OFFSET 0) AS k
    JOIN bench_users u ON u.r = k.r
    JOIN bench_models m ON m.idx = CASE WHEN k.r_model < 0.75 THEN u.favourite
        ELSE width_bucket(k.r_pick, (SELECT array_agg(cum_lo ORDER BY idx) FROM bench_models)) - 1
        END
) AS event
"""

TABLES = [
    ("raw events", EVENT_TABLE),
    ("LlmUsageDaily (day, user, provider, model)", "costledger_llmusagedaily"),
    ("LlmUsageUserDaily (day, user)", "costledger_llmusageuserdaily"),
    ("LlmUsageModelDaily (day, provider, model)", "costledger_llmusagemodeldaily"),
]


def connect() -> psycopg.Connection:
    # Client-side binding: the set-up is several statements in one execute.
    return psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True, cursor_factory=psycopg.ClientCursor)


def in_parallel(statements: list[tuple[str, dict]]) -> None:
    """Run the statements on two connections at once (the machine has two cores)."""
    errors = []

    def worker(batch):
        try:
            with connect() as conn:
                conn.execute("SET work_mem = '256MB'; SET maintenance_work_mem = '1GB'")
                for statement, params in batch:
                    conn.execute(statement, params)
        except Exception as exc:  # re-raised below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(statements[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def generate(events: int, users: int) -> dict[str, float]:
    """Fill the fresh database; the seconds each phase took. (Long on purpose: one timed phase
    after another, as docs/benchmarks.md lists them.)"""
    timings = {}
    names = ["provider", "model", "weight", "p_in", "p_out", "p_cr", "p_cw", "reasons", "err"]
    columns = [list(column) for column in zip(*MODELS, strict=True)]
    for i in range(3, 7):  # prices: exact decimals
        columns[i] = [None if price is None else Decimal(price) for price in columns[i]]
    params = dict(zip([*names, "costing"], columns, strict=True))
    params |= {"events": events, "users": users, "days": DAYS}
    started = time.monotonic()
    with connect() as conn:
        conn.execute("SET work_mem = '1GB'")
        conn.execute(SETUP, params)
        start = conn.execute(
            "SELECT date_trunc('second', now()) - %s * interval '1 day'", [DAYS]
        ).fetchone()[0]
        # Bulk load as one would: the events table's secondary indexes and constraints are
        # dropped, the rows inserted, then all rebuilt as the migrations made them.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [EVENT_TABLE],
        ).fetchall()
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
            [EVENT_TABLE],
        ).fetchall()
        for name, _ in constraints:
            conn.execute(f"ALTER TABLE {EVENT_TABLE} DROP CONSTRAINT {name}")
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
    timings["users and event times"] = time.monotonic() - started

    started = time.monotonic()
    half = events // 2
    in_parallel(
        [
            (EVENTS, {"seed": 0.1, "lo": 0, "hi": half, "start": start}),
            (EVENTS, {"seed": 0.2, "lo": half, "hi": events, "start": start}),
        ]
    )
    timings["events (2 sessions)"] = time.monotonic() - started

    started = time.monotonic()
    in_parallel([(definition, {}) for _, definition in indexes])
    with connect() as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in constraints:
            conn.execute(f"ALTER TABLE {EVENT_TABLE} ADD CONSTRAINT {name} {definition}")
    timings["events' indexes and constraints"] = time.monotonic() - started

    started = time.monotonic()
    with connect() as conn:
        conn.execute("DROP TABLE bench_keys, bench_users, bench_models")
        days = [row[0] for row in conn.execute("SELECT DISTINCT day FROM costledger_llmusageevent")]
    django_setup(SYNC_API_TOKEN=TOKEN)
    from django.db import connection

    from usage.rebuild import llm_usage_rebuild

    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '512MB'")
    llm_usage_rebuild(days=days)  # the app's own statements, the triggers included
    connection.close()
    timings["rollups (llm_usage_rebuild of every day, triggers included)"] = (
        time.monotonic() - started
    )

    started = time.monotonic()
    with connect() as conn:
        conn.execute("VACUUM ANALYZE")
    timings["VACUUM ANALYZE"] = time.monotonic() - started
    return timings


def data_shape(today) -> None:
    from datetime import timedelta

    start = today - timedelta(days=29)
    with connect() as conn:

        def one(query, params=()):
            return conn.execute(query, params).fetchone()

        events, users, top, middle, unpriced, failed = one(
            "SELECT sum(n), count(*), sum(n) FILTER (WHERE rank <= users / 100) / sum(n), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY n), sum(unpriced) / sum(n), "
            "sum(failed) / sum(n) "
            "FROM (SELECT count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS rank, "
            "count(*) OVER () AS users, count(*) FILTER (WHERE cost IS NULL) AS unpriced, "
            "count(*) FILTER (WHERE is_error) AS failed "
            "FROM costledger_llmusageevent GROUP BY user_id) AS per_user"
        )
        first, last = one("SELECT min(day), max(day) FROM costledger_llmusageevent")
        print(f"events: {events:,} from {first} to {last}, {users:,} users")
        print(f"  unpriced {unpriced:.1%}, errors {failed:.1%}")
        print(f"  top 1% of users: {top:.1%} of the events; median user: {middle:.0f} events")
        window = one(
            "SELECT count(*), count(DISTINCT user_id) FROM costledger_llmusageevent "
            "WHERE day BETWEEN %s AND %s",
            [start, today],
        )
        print(f"  last 30 days: {window[0]:,} events, {window[1]:,} active users")
        print(f"{'table':<46} {'rows':>12} {'last 30 days':>13} {'size':>9}")
        for label, table in TABLES:
            rows, recent = one(
                sql.SQL(
                    "SELECT count(*), count(*) FILTER (WHERE day BETWEEN %s AND %s) FROM {}"
                ).format(sql.Identifier(table)),
                [start, today],
            )
            size = one("SELECT pg_size_pretty(pg_total_relation_size(%s))", [table])[0]
            print(f"{label:<46} {rows:>12,} {recent:>13,} {size:>9}")


# The same figures straight from the raw events, in SQL as one would write it by hand.
RAW = {
    "cost-by-user": """
        SELECT e.user_id, count(*), sum(e.input_tokens + e.output_tokens + e.cache_read_tokens
            + e.cache_write_tokens + e.reasoning_tokens), sum(e.cost) FILTER (WHERE
            e.currency = 'USD'), count(*) FILTER (WHERE e.cost IS NULL), max(u.email)
        FROM costledger_llmusageevent e LEFT JOIN costledger_usageuser u USING (user_id)
        WHERE e.day BETWEEN %(start)s AND %(end)s
        GROUP BY e.user_id ORDER BY 4 DESC NULLS LAST, 2 DESC, e.user_id LIMIT 20""",
    "token-ratios": """
        SELECT provider, model, sum(input_tokens + cache_read_tokens + cache_write_tokens),
            sum(output_tokens + reasoning_tokens)
        FROM costledger_llmusageevent WHERE day BETWEEN %(start)s AND %(end)s
        GROUP BY provider, model ORDER BY provider, model""",
    "error-rates": """
        SELECT provider, count(*), count(*) FILTER (WHERE is_error)
        FROM costledger_llmusageevent WHERE day BETWEEN %(start)s AND %(end)s
        GROUP BY provider ORDER BY provider""",
    "metrics-monthly-summary": """
        SELECT date_trunc('month', day)::date, count(*), sum(input_tokens + output_tokens
            + cache_read_tokens + cache_write_tokens + reasoning_tokens),
            sum(cost) FILTER (WHERE currency = 'USD'), count(*) FILTER (WHERE cost IS NULL)
        FROM costledger_llmusageevent WHERE day BETWEEN %(month_start)s AND %(end)s
        GROUP BY 1 ORDER BY 1""",
}


def endpoint_figures(name: str, items: list[dict]) -> list[tuple]:
    """An endpoint's answer in the shape of the raw query's rows."""
    if name == "cost-by-user":
        return [
            (i["user_id"], i["requests"], i["tokens"], _dec(i["cost"]), i["unpriced_requests"],
             i["email"]) for i in items
        ]  # fmt: skip
    if name == "token-ratios":
        return [
            (i["provider"], i["model"], i["prompt_tokens"], i["completion_tokens"]) for i in items
        ]
    if name == "error-rates":
        return [(i["provider"], i["requests"], i["errors"]) for i in items]
    return [
        (i["month"], i["requests"], i["tokens"], _dec(i["cost"]), i["unpriced_requests"])
        for i in items
        if i["requests"]
    ]


def raw_figures(name: str, rows: list[tuple]) -> list[tuple]:
    if name == "cost-by-user":
        return [(*row[:5], row[5] or None) for row in rows]
    if name == "metrics-monthly-summary":
        return [(row[0].strftime("%Y-%m"), *row[1:]) for row in rows]
    return [tuple(row) for row in rows]


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def timed(call, runs: int, warmups: int) -> tuple[float, object]:
    for _ in range(warmups):
        result = call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return median(times), result


def measure(runs: int, raw_runs: int) -> list[tuple]:
    from datetime import timedelta

    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    today = timezone.now().date()
    dates = {
        "start": today - timedelta(days=29),
        "end": today,
        "month_start": (today.replace(day=1) - timedelta(days=150)).replace(day=1),
    }
    results = []
    for name, query in RAW.items():
        url = f"/api/v1/metrics/{name}"

        def get(url=url):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content)
            return response.json()

        def raw(query=query):
            with connection.cursor() as cursor:
                cursor.execute(query, dates)
                return cursor.fetchall()

        endpoint_ms, body = timed(get, runs, warmups=2)
        raw_ms, rows = timed(raw, raw_runs, warmups=1)
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")  # JIT costs the big raw aggregates time; without it
            raw_no_jit_ms, _ = timed(raw, raw_runs, warmups=1)
            cursor.execute("RESET jit")
        if name == "metrics-monthly-summary":
            months = [item["month"] for item in body["items"]]
            assert months[0] == dates["month_start"].strftime("%Y-%m"), months
        equal = endpoint_figures(name, body["items"]) == raw_figures(name, rows)
        results.append((name, endpoint_ms, raw_ms, raw_no_jit_ms, equal))
    return results


def beyond_defaults(runs: int) -> list[tuple[str, float]]:
    """Larger ranges and limits than the defaults (no target): median of `runs`."""
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    today = timezone.now().date()
    year = {"start": (today - timedelta(days=365)).isoformat(), "end": today.isoformat()}
    cases = [
        ("cost-by-user, 30 days, limit=100", "cost-by-user", {"limit": 100}),
        ("cost-by-user, 30 days, limit=1000", "cost-by-user", {"limit": 1000}),
        ("cost-by-user, 7 days", "cost-by-user", {"start": (today - timedelta(days=6))}),
        ("cost-by-user, 366 days", "cost-by-user", year),
        ("token-ratios, 366 days", "token-ratios", year),
        ("error-rates, 366 days", "error-rates", year),
        ("metrics-monthly-summary, 24 months", "metrics-monthly-summary", {"months": 24}),
    ]
    figures = []
    for label, name, params in cases:

        def get(name=name, params=params):
            response = client.get(f"/api/v1/metrics/{name}", params)
            assert response.status_code == 200, (name, params, response.content)

        figures.append((label, timed(get, runs, warmups=1)[0]))
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--raw-runs", type=int, default=5)
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()

    total = time.monotonic()
    if not args.keep_data:
        started = time.monotonic()
        fresh_database()
        migrate = time.monotonic() - started
        timings = generate(args.events, args.users)
        print(f"data generation: {sum(timings.values()) + migrate:.0f} s")
        print(f"  {'create and migrate the database':<52} {migrate:6.1f} s")
        for phase, seconds in timings.items():
            print(f"  {phase:<52} {seconds:6.1f} s")
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise, no collectstatic
    django_setup(SYNC_API_TOKEN=TOKEN)
    from django.db import connection
    from django.utils import timezone

    data_shape(timezone.now().date())
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        jit = cursor.fetchone()[0]
        cursor.execute("SHOW work_mem")
        work_mem = cursor.fetchone()[0]
    print(f"PostgreSQL session: jit={jit}, work_mem={work_mem}")
    print(
        f"median of {args.runs} requests (Django test Client, in process) | raw events: "
        f"equivalent SQL, median of {args.raw_runs}"
    )
    print(
        f"{'endpoint':<24} {'endpoint':>9} {'raw, jit=' + jit:>12} {'raw, jit=off':>12} "
        f"{'speed-up':>8}  equal  verdict"
    )
    failed = False
    for name, endpoint_ms, raw_ms, raw_no_jit_ms, equal in measure(args.runs, args.raw_runs):
        speedup = min(raw_ms, raw_no_jit_ms) / endpoint_ms  # against the faster raw figure
        ok = endpoint_ms < TARGET_MS and speedup >= TARGET_SPEEDUP and equal
        failed |= not ok
        print(
            f"{name:<24} {endpoint_ms:6.1f} ms {raw_ms:9.0f} ms {raw_no_jit_ms:9.0f} ms "
            f"{speedup:7.0f}x  {'yes' if equal else 'NO':<5}  {'OK' if ok else 'BELOW'}"
        )
    print(f"targets: under {TARGET_MS} ms and at least {TARGET_SPEEDUP}x, same figures")
    print("beyond the defaults (no target), median of 5:")
    for label, ms in beyond_defaults(5):
        print(f"  {label:<40} {ms:8.1f} ms")
    print(f"total benchmark time: {time.monotonic() - total:.0f} s")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
