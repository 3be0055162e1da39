"""The collectors' one chokepoint for outbound HTTP: timeouts, bounded retries with backoff
(honouring Retry-After), a User-Agent, JSON numbers parsed as Decimal, XML parsed without
expanding entities, and provider errors mapped to the collector errors the sync run records.
Tests fake this one thing (with `responses`).
"""

import email.utils
import logging
import random
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
import requests
from defusedxml import DefusedXmlException
from django.conf import settings

from collectors.errors import (
    CredentialsRejected,
    ProviderRefused,
    ProviderUnavailable,
    UnexpectedResponse,
)

logger = logging.getLogger(__name__)
USER_AGENT = "costledger/0.1 (+https://github.com/costledger/costledger)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_PAGES = 10_000


def _sleep(seconds: float) -> None:  # a seam: tests replace it instead of sleeping
    time.sleep(seconds)


def _host(url: str) -> str:
    """host[:port] of a URL, without the user info (it may carry a secret)."""
    return urlsplit(url).netloc.rpartition("@")[2]


def _safe_url(url: str) -> str:
    """The URL without its query string or user info: both may carry secrets."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, _host(url), parts.path, "", ""))


def address_shown(url: str) -> str:
    """A base URL as a page may show it: without user info or query string."""
    try:
        return _safe_url(url)
    except ValueError:  # urlsplit refuses e.g. an unclosed IPv6 bracket
        return "(not a valid URL)"


def _causes(error: BaseException) -> list[BaseException]:
    """The error and everything it wraps: requests wraps urllib3, which wraps the socket's
    error, in __cause__, __context__, args or urllib3's `reason`."""
    found: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or current in found:
            continue
        found.append(current)
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
    return found


def request_error_in_words(error: BaseException, *, url: str, timeout: float | None = None) -> str:
    """Why a request got no HTTP answer, in words an admin can act on. Never the exception's
    text: requests quotes the URL with its query string, and some errors quote a header.
    `timeout`: the seconds the request waited, when not COLLECTOR_HTTP_TIMEOUT."""
    causes = _causes(error)

    def caused_by(*kinds: type[BaseException]) -> bool:
        return any(isinstance(cause, kinds) for cause in causes)

    host = _host(url)
    if timeout is None:
        waited = f"timed out after {settings.COLLECTOR_HTTP_TIMEOUT:g} s (COLLECTOR_HTTP_TIMEOUT)"
    else:
        waited = f"timed out after {timeout:g} s"
    if caused_by(ConnectionRefusedError):
        return f"connection refused by {host}"
    if caused_by(socket.gaierror):
        return f"could not connect to {host} (host not found)"
    if caused_by(requests.ConnectTimeout):
        return f"could not connect to {host}: {waited}"
    # Not urllib3's TimeoutError: its NewConnectionError (a refused connection) is one.
    if caused_by(requests.Timeout, TimeoutError):
        return waited
    if caused_by(requests.exceptions.SSLError, ssl.SSLError):
        return f"could not connect to {host} (TLS handshake failed: check its certificate)"
    if caused_by(ConnectionResetError, RemoteDisconnected):
        return f"{host} closed the connection without answering"
    if caused_by(requests.exceptions.ChunkedEncodingError):
        return f"the answer from {host} was cut off"
    if caused_by(requests.ConnectionError):
        return f"could not connect to {host}"
    if caused_by(requests.exceptions.InvalidHeader):
        return "a header is not valid"
    if caused_by(requests.exceptions.InvalidURL, requests.exceptions.MissingSchema):
        return f"the URL {_safe_url(url)} is not valid"
    return "the request could not be sent"


def provider_unavailable(
    provider: str,
    what: str,
    *,
    problem: str = "",
    status: int = 0,
    headers: Mapping[str, str] | None = None,
    retries: int | None = None,
) -> ProviderUnavailable:
    """A provider still failing after the bounded retries: with no answer (`problem`, from
    request_error_in_words) or with a status worth retrying (a 429 with the wait it asked)."""
    retries = settings.COLLECTOR_HTTP_RETRIES if retries is None else retries
    after = f"after {retries} {'retry' if retries == 1 else 'retries'}"
    if not status:
        return ProviderUnavailable(
            f"{provider} did not answer {what} {after}: {problem}", problem=problem
        )
    message = f"{provider} answered {what} with HTTP {status} {after}"
    if status == 429:
        wait = _retry_after(headers)
        asked = "" if wait is None else f"; Retry-After asked to wait {wait:.0f} s"
        message += f" (too many requests{asked})"
    return ProviderUnavailable(message, status=status)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _backoff(attempt: int, response: requests.Response | None) -> float:
    wait = _retry_after(response.headers if response is not None else None)
    if wait is None:
        base = settings.COLLECTOR_HTTP_BACKOFF * (2**attempt)
        wait = base + random.uniform(0, settings.COLLECTOR_HTTP_BACKOFF)  # noqa: S311 (jitter)
    return min(wait, settings.COLLECTOR_HTTP_MAX_WAIT)


class ProviderHTTP:
    """A session for one provider: its name (for messages), base URL and authentication.

    `timeout` (seconds per request) and `retries` default to the COLLECTOR_HTTP_* settings; a
    connection test, with a person waiting on the page, asks for less.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers=None,
        auth=None,
        timeout: float | None = None,
        retries: int | None = None,
    ):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.headers.update(headers or {})
        self.session.auth = auth

    def url(self, path: str) -> str:
        if not path.startswith(("http://", "https://")):
            return f"{self.base_url}{path}"
        # A provider's absolute "next page" link is followed only on the provider's own origin:
        # the session carries its credentials.
        if urlsplit(path)[:2] != urlsplit(self.base_url)[:2]:
            raise UnexpectedResponse(
                f"{self.provider} pointed to {_safe_url(path)}, outside {_safe_url(self.base_url)}"
            )
        return path

    def get_json(self, path: str, *, params=None) -> Any:
        return self.request_json("GET", path, params=params)

    def pages(self, path: str, *, params=None, next_page: Callable[[Any], str | None]):
        """Yield each page from `path`, following `next_page(page)` until it gives nothing.

        A provider that keeps pointing at a page already read would loop forever: that is an
        unexpected answer, not something to follow.
        """
        seen: set[str] = set()
        while path:
            page = self.get_json(path, params=params)
            yield page
            path, params = next_page(page), None
            if path in seen or len(seen) >= MAX_PAGES:
                raise UnexpectedResponse(
                    f"{self.provider} kept paginating ({len(seen) + 1} pages, next page "
                    f"{_safe_url(self.url(path))} again)"
                )
            if path:
                seen.add(path)

    def request_json(self, method: str, path: str, *, params=None, json=None, data=None) -> Any:
        response = self.request(method, path, params=params, json=json, data=data)
        try:
            # Money arrives as JSON numbers from some providers: read them as Decimal directly,
            # never through float.
            return response.json(parse_float=Decimal)
        except ValueError as error:
            raise UnexpectedResponse(
                f"{self.provider} answered {_safe_url(response.url)} with something that is not "
                f"JSON ({response.headers.get('Content-Type', 'no content type')})"
            ) from error

    def get_xml(self, path: str, *, params=None) -> Element:
        """The XML document at `path` (its root element), read by xml_document()."""
        response = self.request("GET", path, params=params)
        try:
            return xml_document(response.content)
        except ValueError as error:
            raise UnexpectedResponse(
                f"{self.provider} answered {_safe_url(response.url)} with {error} "
                f"({response.headers.get('Content-Type', 'no content type')})"
            ) from None

    def request(
        self, method: str, path: str, *, params=None, json=None, data=None
    ) -> requests.Response:
        """`json` or `data` (a form, as OAuth token endpoints take) is the body."""
        url = self.url(path)
        retries = settings.COLLECTOR_HTTP_RETRIES if self.retries is None else self.retries
        timeout = settings.COLLECTOR_HTTP_TIMEOUT if self.timeout is None else self.timeout
        attempts = retries + 1
        problem = ""
        for attempt in range(attempts):
            response = None
            try:
                response = self.session.request(
                    method, url, params=params, json=json, data=data, timeout=timeout
                )
            except (
                requests.Timeout,
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
            ) as error:
                problem = request_error_in_words(error, url=url, timeout=self.timeout)
            except requests.RequestException as error:
                raise ProviderRefused(
                    f"the request to {self.provider} could not be sent "
                    f"({request_error_in_words(error, url=url)}); check its credential and URL "
                    "settings for stray spaces or newlines"
                ) from None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code in (401, 403):
                    raise CredentialsRejected(self.provider, response.status_code)
                if response.status_code not in RETRY_STATUSES:
                    raise ProviderRefused(
                        f"{self.provider} refused {method} {_safe_url(url)}: HTTP "
                        f"{response.status_code} {response.text[:200]}",
                        status=response.status_code,
                    )
                problem = f"HTTP {response.status_code}"
            if attempt + 1 < attempts:
                wait = _backoff(attempt, response)
                logger.info(
                    "%s %s: %s, retry %d/%d in %.1fs",
                    self.provider,
                    _safe_url(url),
                    problem,
                    attempt + 1,
                    attempts - 1,
                    wait,
                )
                _sleep(wait)
        what = f"{method} {_safe_url(url)}"
        if response is None:
            raise provider_unavailable(self.provider, what, problem=problem, retries=retries)
        raise provider_unavailable(
            self.provider,
            what,
            status=response.status_code,
            headers=response.headers,
            retries=retries,
        )


def xml_document(content: bytes) -> Element:
    """An XML document's root element. Parsed with defusedxml: a document declaring entities
    (the "billion laughs") or referring to external ones is refused unread, never expanded or
    fetched. Raises ValueError saying what the content is instead."""
    try:
        return safe_xml.fromstring(content)
    except DefusedXmlException:
        raise ValueError("XML that declares entities (refused unread)") from None
    except ParseError:
        raise ValueError("something that is not XML") from None


def require(data: Any, *path: str | int, provider: str) -> Any:
    """data[path[0]][path[1]]...; a missing key is an UnexpectedResponse naming the path."""
    current = data
    for i, key in enumerate(path):
        try:
            current = current[key]
        except (KeyError, IndexError, TypeError):
            where = ".".join(str(k) for k in path[: i + 1])
            raise UnexpectedResponse(
                f"{provider} answered without '{where}', which its API documents"
            ) from None
    return current


def decimal_of(value: Any, *, field: str, provider: str) -> Decimal:
    """A money or count figure as Decimal, from a JSON number (already Decimal) or a string."""
    if isinstance(value, bool) or value is None:
        raise UnexpectedResponse(f"{provider} answered {field}={value!r}, not a number")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise UnexpectedResponse(f"{provider} answered {field}={value!r}, not a number") from None


def time_of(value: Any, *, field: str, provider: str, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time a provider answered, aware and in UTC. A time without a zone is refused,
    unless the provider documents its times as UTC (`naive_is_utc`)."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is None and naive_is_utc:
        moment = moment.replace(tzinfo=UTC)
    if moment is None or moment.tzinfo is None:
        raise UnexpectedResponse(f"{provider} answered {field}={value!r}, not a time")
    return moment.astimezone(UTC)
