from django.core.management.base import BaseCommand
from genai_prices import __version__ as genai_prices_version

from usage.pricing import model_prices_load


class Command(BaseCommand):
    help = (
        "Load the LLM price book from the pinned genai-prices package's bundled offline data "
        "and its supplement, usage/price_supplement.py (no network). Idempotent: writes only "
        "prices that changed; prices entered in the admin "
        "are never touched. -v 2 lists what was left out."
    )

    def handle(self, *args, verbosity: int, **options):
        result = model_prices_load()
        self.stdout.write(
            f"genai-prices {genai_prices_version}: {result.written} price rows written, "
            f"{result.unchanged} unchanged, {len(result.skipped)} prices left out "
            "(time-of-day prices, models priced by audio or messages only, supplement prices "
            "the package now has)."
        )
        if verbosity >= 2:
            for line in result.skipped:
                self.stdout.write(f"  left out: {line}")
