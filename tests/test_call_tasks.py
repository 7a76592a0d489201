"""Call tasks: opened by campaigns, cancelled by their opener, completed by agents."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agents import queries, services
from agents.consumers import REPLAY_SLACK
from agents.errors import CallTaskNotOpenError, InvalidCallTaskError
from agents.models import CallTask
from events.models import Event
from tests.factories import make_contact, next_phone
from tests.test_desk_consumer import (
    QUIET_SECONDS,
    RECEIVE_TIMEOUT,
    desk_socket,
    signed_in_session_key,
)

pytestmark = pytest.mark.django_db

DUE = datetime(2030, 5, 4, 15, 30, tzinfo=UTC)
TASK_LIST = "/desk/tasks/"


@pytest.fixture
def agent():
    return get_user_model().objects.create_user("agent", password="not-used-here")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def open_task(contact=None, *, key: str = "", **overrides) -> CallTask:
    """A task opened through the service, by campaign 12 unless told."""
    fields = {
        "idempotency_key": key or f"campaign:12:step:1:{next_phone()}",
        "opener_key": "campaign:12",
        "opened_by": "campaign 12 (Unfinished application)",
        **overrides,
    }
    return services.open_call_task(contact or make_contact(), **fields)


def complete_url(task: CallTask) -> str:
    return reverse("desk:task-complete", args=[task.pk])


def task_state(task: CallTask) -> tuple:
    task.refresh_from_db()
    return (
        task.status,
        task.disposition,
        task.completion_notes,
        task.completed_by_id,
        task.completed_at,
        task.cancelled_at,
        task.cancel_reason,
    )


# Opening


def test_open_call_task_stores_the_task_as_given():
    contact = make_contact()

    task = services.open_call_task(
        contact,
        idempotency_key="campaign:12:enrollment:7:step:2",
        opener_key="campaign:12",
        opened_by="campaign 12 (Unfinished application)",
        priority="high",
        due_at=DUE,
        due_by=DUE + timedelta(hours=2),
        notes="Started an application, did not finish",
        script="Hi, this is Regal about your application",
    )

    task.refresh_from_db()
    assert (
        task.contact_id,
        task.status,
        task.priority,
        task.due_at,
        task.due_by,
        task.notes,
        task.script,
        task.opened_by,
        task.opener_key,
        task.idempotency_key,
        task.disposition,
        task.completed_by_id,
    ) == (
        contact.pk,
        "open",
        "high",
        DUE,
        DUE + timedelta(hours=2),
        "Started an application, did not finish",
        "Hi, this is Regal about your application",
        "campaign 12 (Unfinished application)",
        "campaign:12",
        "campaign:12:enrollment:7:step:2",
        "",
        None,
    )


def test_open_call_task_twice_with_one_key_returns_the_first_and_opens_nothing(
    django_capture_on_commit_callbacks,
):
    contact = make_contact()
    first = open_task(contact, key="campaign:12:enrollment:7:step:2", notes="first")

    with django_capture_on_commit_callbacks() as callbacks:
        second = open_task(contact, key="campaign:12:enrollment:7:step:2", notes="2nd")

    assert second.pk == first.pk
    assert second.notes == "first"
    assert CallTask.objects.count() == 1
    assert callbacks == []


def test_open_call_task_with_an_unknown_priority_raises_and_opens_nothing(
    django_capture_on_commit_callbacks,
):
    contact = make_contact()

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(InvalidCallTaskError) as raised,
    ):
        open_task(contact, priority="asap")

    assert raised.value.code == "invalid_call_task"
    assert CallTask.objects.count() == 0
    assert callbacks == []


# Cancelling


def test_cancel_call_tasks_cancels_only_the_openers_open_tasks_of_the_contact():
    contact = make_contact()
    mine = [open_task(contact), open_task(contact)]
    done = open_task(contact)
    services.complete_call_task(
        done, agent=get_user_model().objects.create_user("a"), disposition="reached"
    )
    other_opener = open_task(contact, opener_key="campaign:13")
    other_contact = open_task()

    cancelled = services.cancel_call_tasks(
        contact, opener_key="campaign:12", reason="exited: Application Completed"
    )

    assert cancelled == 2
    assert dict(CallTask.objects.values_list("pk", "status")) == {
        mine[0].pk: "cancelled",
        mine[1].pk: "cancelled",
        done.pk: "completed",
        other_opener.pk: "open",
        other_contact.pk: "open",
    }


def test_cancel_call_tasks_records_the_reason_and_time():
    task = open_task()
    before = timezone.now()

    services.cancel_call_tasks(
        task.contact, opener_key="campaign:12", reason="exited: Application Completed"
    )

    task.refresh_from_db()
    assert task.cancel_reason == "exited: Application Completed"
    assert before <= task.cancelled_at <= timezone.now()
    assert task.updated_at == task.cancelled_at


def test_cancel_call_tasks_with_nothing_open_returns_zero_and_broadcasts_nothing(
    django_capture_on_commit_callbacks,
):
    task = open_task(opener_key="campaign:13")

    with django_capture_on_commit_callbacks() as callbacks:
        cancelled = services.cancel_call_tasks(
            task.contact, opener_key="campaign:12", reason="exited"
        )

    assert cancelled == 0
    assert task_state(task) == ("open", "", "", None, None, None, "")
    assert callbacks == []


# Completing


def test_complete_call_task_records_who_when_and_how_it_ended(agent):
    task = open_task()
    before = timezone.now()

    completed = services.complete_call_task(
        task, agent=agent, disposition="voicemail", notes="Left a message at 3pm"
    )

    task.refresh_from_db()
    assert (
        task.status,
        task.disposition,
        task.completion_notes,
        task.completed_by_id,
    ) == ("completed", "voicemail", "Left a message at 3pm", agent.pk)
    assert before <= task.completed_at <= timezone.now()
    assert completed.completed_at == task.completed_at


def test_complete_call_task_records_the_task_completed_event(agent):
    task = open_task()

    services.complete_call_task(task, agent=agent, disposition="reached")

    event = Event.objects.get(name="task.completed")
    assert (event.contact_id, event.message_id, event.properties) == (
        task.contact_id,
        f"task.completed:{task.pk}",
        {
            "task_id": task.pk,
            "disposition": "reached",
            "opened_by": "campaign 12 (Unfinished application)",
        },
    )


def close_by_completing(task: CallTask) -> None:
    agent = get_user_model().objects.create_user("first-agent")
    services.complete_call_task(task, agent=agent, disposition="no_answer")


def close_by_cancelling(task: CallTask) -> None:
    services.cancel_call_tasks(task.contact, opener_key="campaign:12", reason="exit")


@pytest.mark.parametrize(
    "close",
    [
        pytest.param(close_by_completing, id="completed"),
        pytest.param(close_by_cancelling, id="cancelled"),
    ],
)
def test_complete_call_task_of_a_closed_task_raises_and_changes_nothing(
    agent, django_capture_on_commit_callbacks, close
):
    task = open_task()
    close(task)
    closed = task_state(task)
    events = Event.objects.count()

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(CallTaskNotOpenError) as raised,
    ):
        services.complete_call_task(task, agent=agent, disposition="reached")

    assert raised.value.code == "call_task_not_open"
    assert task_state(task) == closed
    assert Event.objects.count() == events
    assert callbacks == []


def test_complete_call_task_with_an_unknown_disposition_raises_and_changes_nothing(
    agent,
):
    task = open_task()

    with pytest.raises(InvalidCallTaskError):
        services.complete_call_task(task, agent=agent, disposition="hung_up")

    assert task_state(task) == ("open", "", "", None, None, None, "")
    assert Event.objects.filter(name="task.completed").count() == 0


# Reading


def test_list_open_tasks_orders_by_priority_then_due_time_none_last():
    later = open_task(priority="high", due_at=DUE + timedelta(hours=1))
    undated = open_task(priority="high")
    sooner = open_task(priority="high", due_at=DUE)
    urgent = open_task(priority="urgent", due_at=DUE + timedelta(days=1))
    low = open_task(priority="low", due_at=DUE - timedelta(days=1))
    normal = open_task(priority="normal")
    close_by_cancelling(open_task(priority="urgent"))

    ordered = [task.pk for task in queries.list_open_tasks()]

    assert ordered == [
        urgent.pk,
        sooner.pk,
        later.pk,
        undated.pk,
        normal.pk,
        low.pk,
    ]


# The desk


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("get", TASK_LIST, id="list"),
        pytest.param("post", "/desk/tasks/1/complete/", id="complete"),
    ],
)
def test_task_desk_redirects_an_anonymous_user_to_the_login_page(client, method, path):
    response = getattr(client, method)(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_task_list_shows_the_open_tasks_by_priority_then_due_time(agent_client):
    normal = open_task(priority="normal", due_at=DUE)
    urgent_later = open_task(priority="urgent", due_at=DUE + timedelta(hours=1))
    urgent_sooner = open_task(priority="urgent", due_at=DUE)
    close_by_cancelling(open_task(priority="urgent"))

    response = agent_client.get(TASK_LIST)

    assert response.status_code == 200
    assert [task.pk for task in response.context["tasks"]] == [
        urgent_sooner.pk,
        urgent_later.pk,
        normal.pk,
    ]


def test_task_list_links_a_task_to_its_contacts_conversation(agent_client):
    contact = make_contact(first_name="Ada", last_name="Lovelace")
    conversation = services.get_or_create_conversation(contact)
    open_task(contact)

    response = agent_client.get(TASK_LIST)

    url = reverse("desk:conversation-detail", args=[conversation.pk])
    assert f'<a href="{url}">Ada Lovelace ({contact.phone})</a>' in response.text


@pytest.mark.parametrize("tasks", [1, 5])
def test_task_list_runs_the_same_queries_however_many_tasks(
    agent_client, django_assert_num_queries, tasks
):
    for _ in range(tasks):
        services.get_or_create_conversation(open_task().contact)

    # Session, user, the newest message id, the tasks with contacts and
    # conversations.
    with django_assert_num_queries(4):
        response = agent_client.get(TASK_LIST)

    assert len(response.context["tasks"]) == tasks


def test_complete_form_completes_the_task_as_the_signed_in_agent(agent_client, agent):
    task = open_task()

    response = agent_client.post(
        complete_url(task), {"disposition": "reached", "notes": "Will finish tonight"}
    )

    assert response.status_code == 302
    assert response["Location"] == TASK_LIST
    assert task_state(task)[:4] == (
        "completed",
        "reached",
        "Will finish tonight",
        agent.pk,
    )


def test_complete_form_from_an_anonymous_user_completes_nothing(client):
    task = open_task()

    client.post(complete_url(task), {"disposition": "reached"})

    assert task_state(task) == ("open", "", "", None, None, None, "")


def test_complete_form_without_the_csrf_token_is_refused(agent):
    task = open_task()
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)

    response = client.post(complete_url(task), {"disposition": "reached"})

    assert response.status_code == 403
    assert task_state(task) == ("open", "", "", None, None, None, "")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="no-disposition"),
        pytest.param({"disposition": "hung_up"}, id="unknown-disposition"),
    ],
)
def test_complete_form_without_a_known_disposition_completes_nothing(
    agent_client, data
):
    task = open_task()

    response = agent_client.post(complete_url(task), data)

    assert response.status_code == 400
    assert task_state(task) == ("open", "", "", None, None, None, "")


def test_complete_form_of_a_closed_task_answers_conflict_and_changes_nothing(
    agent_client,
):
    task = open_task()
    close_by_cancelling(task)
    cancelled = task_state(task)

    response = agent_client.post(complete_url(task), {"disposition": "reached"})

    assert response.status_code == 409
    assert task_state(task) == cancelled
    assert Event.objects.filter(name="task.completed").count() == 0


def test_complete_form_of_an_unknown_task_is_not_found(agent_client):
    task = open_task()

    response = agent_client.post(
        reverse("desk:task-complete", args=[task.pk + 1]), {"disposition": "reached"}
    )

    assert response.status_code == 404


# Live updates, through the desk's websocket and the configured channel layer


def task_frame(task: CallTask) -> dict:
    task.refresh_from_db()
    contact = task.contact
    return {
        "type": "task",
        "task": {
            "id": task.pk,
            "contact": {"id": contact.pk, "name": str(contact), "phone": contact.phone},
            "conversation_id": None,
            "status": task.status,
            "priority": task.priority,
            "priority_label": task.get_priority_display(),
            "priority_rank": {"urgent": 0, "high": 1, "normal": 2, "low": 3}[
                task.priority
            ],
            "due_at": task.due_at.isoformat() if task.due_at else None,
            "due_by": None,
            "notes": task.notes,
            "script": task.script,
            "opened_by": task.opened_by,
            "updated_at": task.updated_at.isoformat(timespec="microseconds"),
        },
    }


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_desk_socket_pushes_a_task_once_it_is_opened():
    session_key = signed_in_session_key()
    contact = make_contact(first_name="Ada")

    async def scenario():
        socket = desk_socket(session_key=session_key)
        await socket.connect()
        task = await sync_to_async(open_task)(
            contact, priority="urgent", due_at=DUE, notes="Call about the loan"
        )
        received = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await socket.disconnect()
        return task, received

    task, received = async_to_sync(scenario)()

    assert received == {
        "type": "task",
        "task": {
            "id": task.pk,
            "contact": {"id": contact.pk, "name": str(contact), "phone": contact.phone},
            "conversation_id": None,
            "status": "open",
            "priority": "urgent",
            "priority_label": "Urgent",
            "priority_rank": 0,
            "due_at": "2030-05-04T15:30:00+00:00",
            "due_by": None,
            "notes": "Call about the loan",
            "script": "",
            "opened_by": "campaign 12 (Unfinished application)",
            "updated_at": task.updated_at.isoformat(timespec="microseconds"),
        },
    }


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_desk_socket_pushes_each_task_a_cancel_closes():
    session_key = signed_in_session_key()
    contact = make_contact()
    tasks = [open_task(contact), open_task(contact)]

    async def scenario():
        socket = desk_socket(session_key=session_key)
        await socket.connect()
        await sync_to_async(close_by_cancelling)(tasks[0])
        received = [
            await socket.receive_json_from(timeout=RECEIVE_TIMEOUT) for _ in tasks
        ]
        await socket.disconnect()
        return received

    received = async_to_sync(scenario)()

    assert sorted(received, key=lambda frame: frame["task"]["id"]) == [
        task_frame(task) for task in tasks
    ]
    assert {frame["task"]["status"] for frame in received} == {"cancelled"}


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_desk_socket_pushes_a_completed_task():
    session_key = signed_in_session_key()
    task = open_task()

    async def scenario():
        socket = desk_socket(session_key=session_key)
        await socket.connect()
        await sync_to_async(close_by_completing)(task)
        received = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await socket.disconnect()
        return received

    received = async_to_sync(scenario)()

    assert received == task_frame(task)
    assert received["task"]["status"] == "completed"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_desk_socket_replays_to_the_task_list_the_tasks_changed_since():
    session_key = signed_in_session_key()
    close_by_cancelling(open_task())
    # The consumer replays from REPLAY_SLACK before `since`: from now, exactly.
    since = timezone.now() + REPLAY_SLACK
    missed = open_task(priority="high")
    query = f"?after=0&tasks=1&since={quote(since.isoformat())}"

    async def scenario():
        socket = desk_socket(session_key=session_key, query=query)
        await socket.connect()
        received = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await socket.disconnect()
        return received, quiet

    received, quiet = async_to_sync(scenario)()

    assert received == task_frame(missed)
    assert quiet is True


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_desk_socket_replays_no_tasks_to_a_page_without_a_task_list():
    session_key = signed_in_session_key()
    since = quote(timezone.now().isoformat())
    open_task()

    async def scenario():
        socket = desk_socket(session_key=session_key, query=f"?after=0&since={since}")
        connected, _ = await socket.connect()
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await socket.disconnect()
        return connected, quiet

    connected, quiet = async_to_sync(scenario)()

    assert (connected, quiet) == (True, True)
