"""Test connection: one small read-only request with a collector's credentials, through the
collectors' HTTP chokepoint, answered in words an admin can act on. It writes nothing: not to
the ledger, not to the run log.

Each collector says which request (`connection_probe()`, the smallest documented read of the
kind its sync makes) and how to connect (`provider_http()`); here it is made once, without
retries and with a short timeout, since a person is waiting on the page. What is said back never
quotes a credential, an exception's text or the provider's answer: only the HTTP status, the
time taken, and the cause in words (collectors/http.py).
"""

import logging
import time
import traceback
from dataclasses import dataclass

from collectors.base import Collector, ConnectionProbe
from collectors.errors import (
    CollectorError,
    CredentialsRejected,
    ProviderRefused,
    ProviderUnavailable,
    UnexpectedResponse,
)
from collectors.http import require, xml_document
from collectors.registry import collector_class

logger = logging.getLogger(__name__)
CONNECTION_TEST_TIMEOUT = 10.0  # seconds: a person is waiting on the page


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    message: str


class ConnectionFailed(Exception):
    """Why the test failed, in words for the page."""


def collector_connection_test(*, name: str) -> ConnectionTest:
    """Make the collector's probe request once; OK with the HTTP status and the time taken, or
    the cause. `name` must be a registered collector (KeyError otherwise)."""
    cls = collector_class(name)
    if missing := cls.missing_settings():
        names = " and ".join(missing)
        return ConnectionTest(
            False, f"{cls.provider_name} is not configured ({names} not set): nothing was sent."
        )
    collector = cls()
    started = time.monotonic()
    try:
        probe = collector.connection_probe()
        status = _probe_status(collector, probe)
    except ConnectionFailed as failed:
        return ConnectionTest(False, f"{cls.provider_name}: {failed}")
    except Exception as error:  # a bug must not leave the page with a 500, nor say a secret
        where = "".join(traceback.format_tb(error.__traceback__, limit=-3))
        logger.error(
            "connection test of %s crashed with %s at\n%s", name, type(error).__name__, where
        )
        return ConnectionTest(
            False,
            f"{cls.provider_name}: the test could not run (internal error: "
            f"{type(error).__name__}; details in the server log).",
        )
    took = round((time.monotonic() - started) * 1000)
    return ConnectionTest(
        True,
        f"{cls.provider_name}: connection OK, HTTP {status} in {took} ms ({probe.request_shown}).",
    )


def _probe_status(collector: Collector, probe: ConnectionProbe) -> int:
    """The HTTP status of the probe's answer, once its body is what the provider documents."""
    http = collector.provider_http(timeout=CONNECTION_TEST_TIMEOUT, retries=0)
    try:
        response = http.request("GET", probe.path, params=probe.params or None)
    except CollectorError as error:
        raise ConnectionFailed(_failure_in_words(collector, probe, error)) from None
    try:
        body = xml_document(response.content) if probe.document == "XML" else response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type")[:60]
        raise ConnectionFailed(
            f"HTTP {response.status_code}, but the answer is not {probe.document} ({kind}): "
            f"check that {_address_names(collector)} points at its API."
        ) from None
    try:
        _require_expected(body, probe, provider=collector.provider_name)
    except CollectorError:
        raise ConnectionFailed(
            f"HTTP {response.status_code}, but an unexpected answer (no '{probe.expect}', "
            f"which its API documents for {probe.request_shown}): check that "
            f"{_address_names(collector)} points at its API."
        ) from None
    return response.status_code


def _require_expected(body, probe: ConnectionProbe, *, provider: str) -> None:
    if probe.document != "XML":
        require(body, probe.expect, provider=provider)
    elif not any(element.tag.rpartition("}")[2] == probe.expect for element in body.iter()):
        raise UnexpectedResponse(f"{provider} answered without '{probe.expect}'")


def _failure_in_words(collector: Collector, probe: ConnectionProbe, error: CollectorError) -> str:
    variables = " and ".join(collector.required_settings)
    if isinstance(error, CredentialsRejected):
        hint = f" {probe.refused_hint}." if probe.refused_hint else ""
        return (
            f"the key was refused (HTTP {error.status}): check {variables} in the environment "
            f"and that the key may read what the collector needs.{hint}"
        )
    if isinstance(error, ProviderUnavailable) and error.status == 429:
        return "too many requests (HTTP 429): the provider asks to wait; try again in a minute."
    if isinstance(error, ProviderUnavailable) and error.status:
        return f"the provider answered HTTP {error.status} (a fault on its side): try again later."
    if isinstance(error, ProviderUnavailable):
        return f"no answer: {error.problem}."
    if isinstance(error, ProviderRefused) and error.status:
        return (
            f"the request was refused (HTTP {error.status}) for {probe.request_shown}: check that "
            f"{_address_names(collector)} points at its API."
        )
    # Said by collectors/http.py without the exception's text: e.g. a header that cannot be
    # sent (a stray newline in a key).
    return str(error)


def _address_names(collector: Collector) -> str:
    return " / ".join(collector.address_settings) or "its URL setting"
