import gzip
import hashlib
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from events.models import Source
from events.services import ingest_events

GZIP_MAGIC = b"\x1f\x8b"


class Command(BaseCommand):
    help = (
        "Import Segment-format events from a JSON-lines file (plain or gzip). "
        "Safe to run again: events already imported are skipped. Bad lines are "
        "reported by line number and the rest is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--source", required=True, help="the name of the source to import into"
        )
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--trigger-campaigns",
            action="store_true",
            help="let campaigns act on the imported events (off: history is "
            "stored without texting anyone about it)",
        )

    def handle(self, *args, file: Path, source: str, batch_size: int, **options):
        try:
            source_row = Source.objects.get(name=source)
        except Source.DoesNotExist as exc:
            raise CommandError(f"no source is named {source!r}") from exc
        if not file.is_file():
            raise CommandError(f"{file} is not a file")
        self.importer = Importer(source_row, notify=options["trigger_campaigns"])

        with file.open("rb") as raw, open_lines(raw) as lines:
            progress = tqdm(
                total=file.stat().st_size,
                unit="B",
                unit_scale=True,
                file=ProgressOutput(self.stderr),
            )
            batch: list[tuple[int, dict]] = []
            for number, line in enumerate(lines, start=1):
                payload = self.importer.read_line(number, line)
                if payload is not None:
                    batch.append((number, payload))
                if len(batch) >= batch_size:
                    self.importer.ingest(batch)
                    batch = []
                    progress.update(raw.tell() - progress.n)
            self.importer.ingest(batch)
            progress.update(raw.tell() - progress.n)
            progress.close()
        self.report()

    def report(self) -> None:
        importer = self.importer
        for number, reason in sorted(importer.problems):
            self.stderr.write(f"line {number}: {reason}")
        self.stdout.write(
            f"imported {importer.stored} events, skipped {importer.duplicates} "
            f"already imported, rejected {len(importer.problems)} lines"
        )


class Importer:
    def __init__(self, source: Source, *, notify: bool):
        self.source = source
        self.notify = notify
        self.stored = 0
        self.duplicates = 0
        self.problems: list[tuple[int, str]] = []

    def read_line(self, number: int, line: bytes) -> dict | None:
        if not line.strip():
            return None
        try:
            payload = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.problems.append((number, f"not JSON: {exc}"))
            return None
        if isinstance(payload, dict) and not payload.get("messageId"):
            # The same line gets the same id on every run: a rerun duplicates
            # nothing even for events sent without one.
            payload["messageId"] = f"import-{hashlib.sha256(line.strip()).hexdigest()}"
        return payload

    def ingest(self, batch: list[tuple[int, dict]]) -> None:
        if not batch:
            return
        numbers = [number for number, _ in batch]
        result = ingest_events(
            self.source, [payload for _, payload in batch], notify=self.notify
        )
        self.stored += len(result.stored)
        self.duplicates += result.duplicates
        self.problems += [
            (numbers[error.index], f"{error.code}: {error.message}")
            for error in result.errors
        ]


def open_lines(raw):
    """The file's lines, inflated when it starts with gzip's magic bytes."""
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return gzip.open(raw)
    return raw


class ProgressOutput:
    """Lets tqdm redraw its bar in place on a command's stderr."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()
