import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from events.models import Source
from events.services import SYSTEM_SOURCE_NAME, create_source

ADMIN_USERNAME = "admin"
FIRST_SOURCE_NAME = "default"


class Command(BaseCommand):
    help = (
        "Migrate every database, and on the first start create an admin account "
        "and an event source, printing their credentials once."
    )

    def handle(self, *args, **options):
        for alias in settings.DATABASES:
            call_command("migrate", database=alias, interactive=False, verbosity=0)
        self.create_admin()
        self.create_source()

    def create_admin(self) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(ADMIN_USERNAME, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the admin account: user {ADMIN_USERNAME}, "
                f"password {password}  (shown once; change it in the admin)"
            )
        )

    def create_source(self) -> None:
        if Source.objects.exclude(name=SYSTEM_SOURCE_NAME).exists():
            return
        source = create_source(FIRST_SOURCE_NAME)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the event source {source.name!r}, "
                f"write key {source.write_key}  (also shown in the admin)"
            )
        )
