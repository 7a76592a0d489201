"""Insert a batch of events in one statement, skipping messageIds already stored.

This is the write of ingestion's fast path, so its cost is most of what a
batch costs. On PostgreSQL it is one INSERT … SELECT FROM unnest(…) ON
CONFLICT DO NOTHING RETURNING, each column bound server-side as one binary
array. The ORM's bulk_create with ignore_conflicts returns no ids, so it
needed a second query to read them back, and quoting its parameters into the
SQL text in Python cost more CPU than everything else in a request
(bench/ingest.py measures it; docs/benchmarks.md has the figures). Other
databases (SQLite, the embedded default) keep bulk_create and the read-back.
"""

import functools

import psycopg
from django.db import connection
from django.db.models import Field, JSONField
from psycopg.types.json import Jsonb

from events.models import Event


def insert_events(rows: list[dict]) -> dict[str, int]:
    """Insert the events whose messageId is new to their source.

    Each row holds an event's fields by attribute name (`source_id`,
    `profile_id`…), all but the primary key and the automatic times. All the
    rows come from one batch: one source, one received_at. Return
    {messageId: id} of the rows this call inserted; an event missing from it
    was already stored, by an earlier or a concurrent request.
    """
    if not rows:
        return {}
    if connection.vendor == "postgresql":
        return insert_with_unnest(rows)
    return insert_with_orm([Event(**row) for row in rows])


def insert_with_orm(events: list[Event]) -> dict[str, int]:
    created = Event.objects.bulk_create(events, ignore_conflicts=True)
    # ignore_conflicts returns no primary keys: read back the ids of what this
    # call stored. A row a concurrent request stored first is its duplicate.
    return dict(
        Event.objects.filter(
            source_id=events[0].source_id,
            message_id__in=[event.message_id for event in created],
            received_at=events[0].received_at,
        ).values_list("message_id", "pk")
    )


def insert_with_unnest(rows: list[dict]) -> dict[str, int]:
    blank = Event()
    columns = [column_values(field, rows, blank) for field in inserted_fields()]
    connection.ensure_connection()
    # A plain psycopg cursor binds parameters server-side; Django's own
    # (a ClientCursor) would quote every array element into the SQL text.
    raw = psycopg.Cursor(connection.connection)
    cursor = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with cursor:
        cursor.execute(insert_sql(), columns)
        return dict(cursor.fetchall())


def column_values(field: Field, rows: list[dict], blank: Event) -> list:
    """One column's values, as Model.save() would write them.

    An automatic time is set as save() sets it (on `blank`, an unsaved event),
    once for the whole batch.
    """
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return [field.pre_save(blank, True)] * len(rows)
    values = [row[field.attname] for row in rows]
    if isinstance(field, JSONField):
        return [None if value is None else Jsonb(value) for value in values]
    return values


@functools.cache
def inserted_fields() -> list[Field]:
    return [field for field in Event._meta.concrete_fields if not field.primary_key]


@functools.cache
def insert_sql() -> str:
    quote = connection.ops.quote_name
    fields = inserted_fields()
    columns = ", ".join(quote(field.column) for field in fields)
    arrays = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)
    return (
        f"INSERT INTO {quote(Event._meta.db_table)} ({columns}) "
        f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING "
        f"RETURNING {quote('message_id')}, {quote(Event._meta.pk.column)}"
    )
