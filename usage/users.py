"""Writes of the usage-user directory: who a usage `user_id` is, cached from Supabase auth so
that no page waits on Supabase (usage.models.UsageUser)."""

from django.db import transaction

from usage.models import UsageUser

EMAIL_MAX_LENGTH = UsageUser._meta.get_field("email").max_length
USER_ID_MAX_LENGTH = UsageUser._meta.get_field("user_id").max_length


@transaction.atomic
def usage_users_upsert(*, users: dict[str, str]) -> int:
    """Insert or update each user id's email, in one bulk upsert. Returns how many were written.

    Users absent from `users` are kept: their past usage still needs a name, even once deleted
    from Supabase. An email too long for the column is stored empty (the page shows the id)
    rather than cut into a wrong address.
    """
    rows = [
        UsageUser(user_id=user_id, email=email if len(email) <= EMAIL_MAX_LENGTH else "")
        for user_id, email in users.items()
        if user_id and len(user_id) <= USER_ID_MAX_LENGTH
    ]
    UsageUser.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=("user_id",),
        update_fields=("email", "refreshed_at"),
    )
    return len(rows)
