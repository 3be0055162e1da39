from django.apps import AppConfig


class DemoConfig(AppConfig):
    """`manage.py seed_demo`: one consistent demo story, written through every app's services
    (it may import any app; no app imports it)."""

    name = "demo"
    verbose_name = "Demo data"
