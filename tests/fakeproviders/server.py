"""A local fake of every provider, serving their documented example responses over real HTTP.

Used by the Celery integration test, the benchmark (bench/) and by hand:

    python -m tests.fakeproviders.server --port 8765 --delay-ms 200

prints the environment variables that point every collector at it. Each provider's routes live
in tests/fakeproviders/<name>.py as ROUTES (a list of Route), ENV (settings -> value, where
"{base}" is this server's URL) and EXPECTED (the figures those examples imply).
"""

import argparse
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The providers' documented example answers, shared with the collectors' unit tests.
FIXTURES = Path(__file__).resolve().parent.parent / "collectors" / "fixtures"

PROVIDERS = [
    "digitalocean",
    "stripe",
    "twilio",
    "supabase",
    "weaviate",
    "llm_prometheus",
    "openai",
    "anthropic",
    "openrouter",
    "paypal",
    "ecb",
]


def fixture(name: str, **replacements) -> Any:
    """A documented example response, with {placeholders} filled in: JSON decoded, any other
    (the ECB's XML) as text. No Django needed: the fake server also runs on its own and in the
    benchmarks."""
    text = (FIXTURES / name).read_text()
    for key, value in replacements.items():
        text = text.replace("{" + key + "}", str(value))
    return json.loads(text) if name.endswith(".json") else text


@dataclass
class Route:
    """`path` is matched exactly, or as a regular expression when it starts with ^.

    `body` is the JSON to answer, or a function (query: dict[str, list[str]], day: date) -> JSON
    for answers that depend on the request (pages, dates). A body that is text (XML) is answered
    as it is, with `content_type`.
    """

    method: str
    path: str
    body: Any
    status: int = 200
    content_type: str = "application/json"

    def encoded(self, body: Any) -> bytes:
        """The answer's bytes: text as it is, anything else as JSON."""
        if isinstance(body, str):
            return body.encode()
        return json.dumps(body, default=_json_default).encode()

    def matches(self, method: str, path: str) -> bool:
        if method != self.method:
            return False
        return (
            bool(re.fullmatch(self.path, path)) if self.path.startswith("^") else path == self.path
        )


def provider_module(name: str):
    return import_module(f"tests.fakeproviders.{name}")


def all_routes(names=PROVIDERS) -> list[Route]:
    routes = []
    for name in names:
        try:
            routes.extend(provider_module(name).ROUTES)
        except ModuleNotFoundError:
            continue
    return routes


def environment(base: str, names=PROVIDERS) -> dict[str, str]:
    env = {}
    for name in names:
        try:
            module = provider_module(name)
        except ModuleNotFoundError:
            continue
        env.update({key: value.replace("{base}", base) for key, value in module.ENV.items()})
    return env


def _json_default(value):
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    raise TypeError(type(value))


class FakeProviders:
    """Serve the routes on 127.0.0.1 from a background thread, `delay` seconds per answer."""

    def __init__(
        self, *, routes: list[Route] | None = None, delay: float = 0.0, day: date | None = None
    ):
        self.routes = routes if routes is not None else all_routes()
        self.delay = delay
        self.day = day or datetime.now(UTC).date()
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                fake.requests.append((self.command, url.path))
                if fake.delay:
                    time.sleep(fake.delay)
                route = next((r for r in fake.routes if r.matches(self.command, url.path)), None)
                if route is None:
                    status, body = 404, {"error": f"no fake route for {self.command} {url.path}"}
                    data, content_type = json.dumps(body).encode(), "application/json"
                else:
                    query = parse_qs(url.query, keep_blank_values=True)
                    body = route.body(query, fake.day) if callable(route.body) else route.body
                    data, content_type = route.encoded(body), route.content_type
                    status = route.status
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    fake = FakeProviders(delay=args.delay_ms / 1000)
    fake.server.server_close()
    fake.server = ThreadingHTTPServer(("127.0.0.1", args.port), fake.server.RequestHandlerClass)
    base = f"http://127.0.0.1:{args.port}"
    for key, value in environment(base).items():
        print(f"export {key}={value}")
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
