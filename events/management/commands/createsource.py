from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from events.services import create_source


class Command(BaseCommand):
    help = "Create an event source and print only its write key."

    def add_arguments(self, parser):
        parser.add_argument("name", help="a name for the source, e.g. 'website'")

    def handle(self, *args, name: str, **options):
        name = name.strip()
        if not name:
            raise CommandError("a source needs a name")
        try:
            source = create_source(name)
        except IntegrityError as exc:
            raise CommandError(f"a source named {name!r} exists already") from exc
        self.stdout.write(source.write_key)
