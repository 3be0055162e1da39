from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from demo.data import demo_data_load


class Command(BaseCommand):
    help = (
        "Load six months of clearly-labelled demo data: LLM requests priced with the price book "
        "(loaded from genai-prices first if it has no price for the demo's models) and the LLM "
        "providers' bills a few % above them, costs for every other provider, estimates and an "
        "invoice for every past month where there is no billing API, MRR, metric samples. "
        "Running it again the same day changes nothing."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            counts = demo_data_load(today=timezone.now().date())
        summary = ", ".join(f"{count} {name}" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {summary}."))
