import gzip
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import Event
from tests.factories import make_source


def write_lines(path, lines: list[str], *, compress: bool = False) -> None:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)


def track_line(message_id: str | None, name: str = "Viewed") -> str:
    call = {"type": "track", "userId": "u-1", "event": name}
    if message_id:
        call["messageId"] = message_id
    return json.dumps(call)


def run_import(path, source_name: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(
        "import_events", str(path), *args, source=source_name, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_import_events_stores_every_line(tmp_path, compress):
    source = make_source()
    path = tmp_path / "events.jsonl"
    write_lines(path, [track_line("m-1"), track_line("m-2")], compress=compress)

    out, _ = run_import(path, source.name)

    assert out.strip() == (
        "imported 2 events, skipped 0 already imported, rejected 0 lines"
    )
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m-1", "m-2"]


@pytest.mark.django_db
def test_import_events_run_twice_duplicates_nothing(tmp_path):
    source = make_source()
    path = tmp_path / "events.jsonl"
    write_lines(path, [track_line("m-1"), track_line(None, name="No id")])
    run_import(path, source.name)

    out, _ = run_import(path, source.name)

    assert out.strip() == (
        "imported 0 events, skipped 2 already imported, rejected 0 lines"
    )
    assert Event.objects.count() == 2


@pytest.mark.django_db
def test_import_events_reports_bad_lines_by_number_and_imports_the_rest(tmp_path):
    source = make_source()
    path = tmp_path / "events.jsonl"
    write_lines(
        path,
        [
            track_line("m-1"),
            "{not json",
            json.dumps({"type": "track"}),
            track_line("m-4"),
        ],
    )

    out, err = run_import(path, source.name)

    assert out.strip() == (
        "imported 2 events, skipped 0 already imported, rejected 2 lines"
    )
    problems = [line for line in err.splitlines() if line.startswith("line ")]
    assert [problem.split(":")[0] for problem in problems] == ["line 2", "line 3"]
    assert "missing_identity" in problems[1]
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m-1", "m-4"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "handed_on"),
    [((), 0), (("--trigger-campaigns",), 1)],
    ids=["default", "trigger-campaigns"],
)
def test_import_events_hands_events_to_campaigns_only_when_asked(
    tmp_path, settings, django_capture_on_commit_callbacks, args, handed_on
):
    settings.REGAL_EVENT_CONSUMERS = [f"{__name__}.record_hand_off"]
    RECORDED.clear()
    source = make_source()
    path = tmp_path / "events.jsonl"
    write_lines(path, [track_line("m-1")])

    with django_capture_on_commit_callbacks(execute=True):
        run_import(path, source.name, *args)

    assert len(RECORDED) == handed_on


@pytest.mark.django_db
def test_import_events_refuses_an_unknown_source(tmp_path):
    path = tmp_path / "events.jsonl"
    write_lines(path, [track_line("m-1")])

    with pytest.raises(CommandError, match="no source is named 'nope'"):
        run_import(path, "nope")

    assert not Event.objects.exists()


RECORDED: list = []


def record_hand_off(event_ids: list[int]) -> None:
    RECORDED.append(event_ids)
