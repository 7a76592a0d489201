from events.models import Source


def get_enabled_source_by_write_key(write_key: str) -> Source | None:
    return Source.objects.filter(write_key=write_key, is_enabled=True).first()
