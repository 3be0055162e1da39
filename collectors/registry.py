"""Every collector, by name, in the order they are listed and run."""

from importlib import import_module

from collectors.base import Collector

COLLECTOR_PATHS = {
    "digitalocean": "collectors.sources.digitalocean.DigitalOceanCollector",
    "stripe": "collectors.sources.stripe.StripeCollector",
    "twilio": "collectors.sources.twilio.TwilioCollector",
    "supabase": "collectors.sources.supabase.SupabaseCollector",
    "weaviate": "collectors.sources.weaviate.WeaviateCollector",
    "llm_prometheus": "collectors.sources.llm_prometheus.PrometheusLLMCollector",
    "openai": "collectors.sources.openai.OpenAICollector",
    "anthropic": "collectors.sources.anthropic.AnthropicCollector",
    "openrouter": "collectors.sources.openrouter.OpenRouterCollector",
    "paypal": "collectors.sources.paypal.PayPalCollector",
    "ecb": "collectors.sources.ecb.ECBRatesCollector",
}
COLLECTOR_NAMES = list(COLLECTOR_PATHS)


def collector_class(name: str) -> type[Collector]:
    module, _, cls = COLLECTOR_PATHS[name].rpartition(".")
    return getattr(import_module(module), cls)
