"""Usage ingest throughput over HTTP on loopback, against a raw PostgreSQL COPY of the same rows.

The app is served as in production: gunicorn, 2 sync workers, DEBUG off, PostgreSQL. Clients
post batches of 1,000 distinct events (pre-serialised, so the client costs little CPU) over
keep-alive connections for --seconds, from --clients threads. Every event carries tokens of a
priced model, so each is costed, stored, and added to its rollup and usage cost. At the end
the sums are checked against the events. The physical limit: COPY of the same number of rows
straight into the events table. `--workload` (see `_user_picker`): realistic or distinct.

    .venv/bin/python bench/bench_ingest.py [--seconds 20] [--clients 4] [--workload distinct]
"""

import argparse
import bisect
import http.client
import io
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from common import ROOT, bench_env, cpu_calibration, django_setup, fresh_database

PORT = 8931
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")]


USERS = 100_000


def _user_picker(workload: str, rng: random.Random):
    """`distinct`: every event from a user drawn uniformly from 100,000, so nearly every event
    is a new (user, day, model) and a new conversation: the worst case for the sums.
    `realistic`: the same users with heavy-tailed activity, the user of activity rank r
    weighing (r + 1)^-0.7 (as in bench_llm_endpoints: the top 1% send a quarter of the
    requests), and conversations of about 8 requests."""
    if workload == "distinct":
        return lambda: rng.randrange(USERS)
    weights = [(r + 1) ** -0.7 for r in range(USERS)]
    cumulative = list(itertools.accumulate(weights))
    return lambda: bisect.bisect(cumulative, rng.random() * cumulative[-1])


def batches(count: int, size: int = 1000, workload: str = "distinct") -> list[bytes]:
    start = datetime.now(UTC) - timedelta(days=2)
    rng = random.Random(7)
    pick = _user_picker(workload, rng)
    sent: dict[int, int] = {}
    bodies = []
    for b in range(count):
        events = []
        for i in range(size):
            provider, model = MODELS[i % len(MODELS)]
            user = pick()
            sent[user] = sent.get(user, 0) + 1
            conversation = (
                f"c{user}-{rng.randrange(4)}" if workload == "distinct"
                else f"c{user}-{sent[user] // 8}"
            )  # fmt: skip
            events.append({
                "event_id": f"bench-{b}-{i}",
                "timestamp": (start + timedelta(milliseconds=50 * (b * size + i))).isoformat(),
                "user_id": f"user-{user}",
                "provider": provider, "model": model,
                "input_tokens": rng.randrange(50, 4000), "output_tokens": rng.randrange(10, 800),
                "cache_read_tokens": rng.randrange(0, 2000), "latency_ms": rng.randrange(200, 9000),
                # A conversation is several requests: each user has a few going at a time.
                "tags": {"feature": "chat", "conversation_id": conversation},
            })  # fmt: skip
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def serve(env) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(os.path.dirname(sys.executable)))
    process = subprocess.Popen(
        [gunicorn, "costledger.wsgi:application", "-w", "2", "-b", f"127.0.0.1:{PORT}",
         "--log-level", "warning", "--keep-alive", "30"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/")
            return process
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def post_all(bodies: list[bytes], key: str, seconds: float, clients: int):
    queue = list(reversed(bodies))
    lock = threading.Lock()
    done, statuses = [0], {}
    deadline = time.monotonic() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            conn.request("POST", "/api/v1/usage/events", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                done[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0], time.monotonic() - started, statuses


def copy_rate(rows: int) -> float:
    """Rows/s of COPY into the events table (then rolled back): the physical limit here."""
    import psycopg
    from django.db import connection

    columns = "event_id, timestamp, day, user_id, provider, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, images, is_error, error_type, tags, cost, currency, cost_source, ingest_key, received_at"  # noqa: E501
    now = datetime.now(UTC)
    buffer = io.StringIO()
    for i in range(rows):
        buffer.write(
            f"copy-{i}\t{now.isoformat()}\t{now.date()}\tuser-{i % 100000}\topenai\tgpt-4o\t"
            f"1200\t300\t400\t0\t0\t0\tf\t\t{{}}\t0.00595\tUSD\tprice_book\tbench\t{now.isoformat()}\n"
        )
    data = buffer.getvalue()
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"]
    ) as conn:
        started = time.monotonic()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY costledger_llmusageevent ({columns}) FROM STDIN") as copy,
        ):
            copy.write(data)
        elapsed = time.monotonic() - started
        conn.rollback()
    return rows / elapsed


def _connect():
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], autocommit=True
    )


def sums_check() -> None:
    """The sums the triggers and the ingest statement keep, against the events: the same."""
    with _connect() as conn:
        daily, users, models, events, tags = conn.execute(
            "SELECT (SELECT sum(requests) FROM costledger_llmusagedaily), "
            "(SELECT sum(requests) FROM costledger_llmusageuserdaily), "
            "(SELECT sum(requests) FROM costledger_llmusagemodeldaily), "
            "(SELECT count(*) FROM costledger_llmusageevent), "
            "(SELECT sum(requests) FROM costledger_llmusagetagkeydaily)"
        ).fetchone()
    if not (daily == users == models == events and tags == 2 * events):
        raise SystemExit(f"sums differ: {daily=} {users=} {models=} {events=} {tags=}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workload", choices=["distinct", "realistic"], default="realistic")
    args = parser.parse_args()

    fresh_database()
    env = bench_env(CONN_MAX_AGE="600")
    subprocess.run([sys.executable, "manage.py", "load_prices"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    django_setup()
    from usage.keys import ingest_key_create

    key = ingest_key_create(name="bench")[1]
    # More than can be sent in the time.
    bodies = batches(int(args.seconds * 60) + 20, workload=args.workload)
    server = serve(env)
    try:
        post_all(bodies[:5], key, 30, 1)  # warm-up: imports, connections, price cache
        sent, elapsed, statuses = post_all(bodies[5:], key, args.seconds, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if set(statuses) != {200}:
        raise SystemExit(f"not every batch was accepted: {statuses}")
    sums_check()
    from usage.models import LlmUsageEvent, LlmUsageTagDaily, LlmUsageUserDaily

    stored = LlmUsageEvent.objects.count()
    rate = sent * 1000 / elapsed
    copy = copy_rate(200_000)
    print(f"workload {args.workload}: {LlmUsageUserDaily.objects.count():,} user days, "
          f"{LlmUsageTagDaily.objects.filter(key='conversation_id').count():,} conversation days"
          f" for {stored:,} events")  # fmt: skip
    print(f"gunicorn 2 workers, {args.clients} client threads, batches of 1,000, {elapsed:.1f} s")
    print(f"requests: {sent} (statuses {statuses}); events stored: {stored}")
    print(f"ingest: {rate:,.0f} events/s  (target >= 20,000) {'OK' if rate >= 20000 else 'BELOW'}")
    print(f"raw COPY of the same rows: {copy:,.0f} rows/s; ingest / COPY = {rate / copy:.2f}")
    print(f"machine: 10 million Python additions in {cpu_calibration():.2f} s")


if __name__ == "__main__":
    main()
