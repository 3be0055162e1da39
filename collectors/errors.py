"""What can go wrong in a collector, in words the admin reads on the sync run page."""


class CollectorError(Exception):
    """A collector could not do its work; the message names the thing, the reason, what to do."""


class CollectorSkipped(CollectorError):
    """Not an error of the provider: the collector is not set up (e.g. a credential is unset)."""


class CredentialsRejected(CollectorError):
    def __init__(self, provider: str, status: int):
        self.status = status
        super().__init__(
            f"credentials rejected by {provider} (HTTP {status}): check the key or token in the "
            "environment and that it has the needed permissions"
        )


class ProviderUnavailable(CollectorError):
    """Timeouts, 5xx or 429 still failing after the bounded retries: worth retrying later.

    `problem` says why no answer came (request_error_in_words), or `status` is the answer's.
    """

    def __init__(self, message: str, *, problem: str = "", status: int = 0):
        super().__init__(message)
        self.problem = problem
        self.status = status


class ProviderRefused(CollectorError):
    """A 4xx other than 401/403/429: the request itself was refused."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class UnexpectedResponse(CollectorError):
    """The provider answered something it does not document; nothing is written."""
