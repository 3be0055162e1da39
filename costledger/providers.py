"""The providers the ledger knows, with the category their costs fall in by default.

A provider is stored as its slug. Collectors, invoices and pages all name providers from here,
so a typo cannot create a second "supabase".
"""

from dataclasses import dataclass

from django.db import models


class Category(models.TextChoices):
    INFRASTRUCTURE = "infrastructure", "Infrastructure"
    LLM = "llm", "LLM"
    PAYMENTS = "payments", "Payments"
    COMMUNICATIONS = "communications", "Communications"
    OTHER = "other", "Other"


@dataclass(frozen=True)
class Provider:
    slug: str
    name: str
    category: str


PROVIDERS: dict[str, Provider] = {
    p.slug: p
    for p in (
        Provider("digitalocean", "DigitalOcean", Category.INFRASTRUCTURE),
        Provider("supabase", "Supabase", Category.INFRASTRUCTURE),
        Provider("weaviate", "Weaviate", Category.INFRASTRUCTURE),
        Provider("twilio", "Twilio", Category.COMMUNICATIONS),
        Provider("stripe", "Stripe", Category.PAYMENTS),
        Provider("paypal", "PayPal", Category.PAYMENTS),
        Provider("openai", "OpenAI", Category.LLM),
        Provider("anthropic", "Anthropic", Category.LLM),
        Provider("openrouter", "OpenRouter", Category.LLM),
        Provider("cohere", "Cohere", Category.LLM),
        Provider("other", "Other", Category.OTHER),
    )
}

PROVIDER_CHOICES = [(p.slug, p.name) for p in PROVIDERS.values()]


def provider_name(slug: str) -> str:
    provider = PROVIDERS.get(slug)
    return provider.name if provider else slug


def provider_category(slug: str) -> str:
    provider = PROVIDERS.get(slug)
    return provider.category if provider else Category.OTHER
