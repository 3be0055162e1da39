"""Usage ingest API keys: created (shown once), checked on every request, revoked."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from usage.models import IngestKey

KEY_PREFIX = "clk_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def ingest_key_create(*, name: str, created_by: str = "") -> tuple[IngestKey, str]:
    """A new key; returns it with the full key, which is never shown again."""
    prefix = secrets.token_hex(4)
    full = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = IngestKey.objects.create(
        name=name, prefix=prefix, key_hash=_hash(full), created_by=created_by
    )
    return key, full


def ingest_key_check(*, presented: str) -> IngestKey | None:
    """The active key matching `presented`, or None. Notes when it was last used, at most once
    a minute, so that a busy client does not turn every request into a write on one row."""
    if not presented.startswith(KEY_PREFIX):
        return None
    prefix = presented[len(KEY_PREFIX) :].split("_", 1)[0]
    if not (len(prefix) == 8 and all(c in "0123456789abcdef" for c in prefix)):
        return None  # not one of ours (token_hex(4)); nothing to look up
    key = IngestKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(presented)):
        return None
    now = timezone.now()
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        IngestKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def ingest_keys_revoke(*, keys) -> int:
    return keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
