"""What the sync engine tells whoever listens, without knowing who: the alerts check their
rules after each sync (alerts/apps.py connects to it; collectors import no alert code)."""

from django.dispatch import Signal

# Sent once per sync run, by the caller that closed it; `sync_run_id` and `status`.
sync_run_finished = Signal()
