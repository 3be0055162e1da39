import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the quick start's admin user with a generated password, printed once. "
        "Does nothing if the user exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Admin user '{username}' already exists (its password was printed when it was "
                f"created). Forgot it? Run: python manage.py changepassword {username}"
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                "\n  Admin login (shown once, keep it):\n"
                f"    URL:      http://127.0.0.1:8000/admin/\n"
                f"    user:     {username}\n"
                f"    password: {password}\n"
            )
        )
