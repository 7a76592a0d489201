"""The desk: conversations, their threads and call tasks, kept live by desk.js."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from agents import queries, services
from agents.desk.forms import CompleteTaskForm, ReplyForm
from agents.errors import CallTaskNotOpenError
from agents.models import CallTask, Conversation

# The list is the latest conversations, not an archive.
MAX_CONVERSATIONS = 200
# More open tasks than this is a backlog no agent scrolls through.
MAX_TASKS = 200


@login_required
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    watermark = queries.desk_watermark()
    conversations = queries.list_conversations()[:MAX_CONVERSATIONS]
    return render(
        request,
        "desk/conversation_list.html",
        {"conversations": list(conversations), "watermark": watermark},
    )


@login_required
@require_GET
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(conversation_id)
    return render_thread(request, conversation, form=ReplyForm.blank())


@login_required
@require_POST
def reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(conversation_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return render_thread(request, conversation, form=form, status=400)
    # TODO: record which agent sent the reply; Message has no author yet and
    # queue_sms takes none, a schema change best made with the tasks work.
    services.queue_sms(
        conversation.contact,
        body=form.cleaned_data["body"],
        idempotency_key=form.idempotency_key(),
    )
    if request.headers.get("X-Requested-With") == "fetch":
        # desk.js posts in the background: the thread stays open and its
        # websocket shows the message and its status as they change.
        return HttpResponse(status=204)
    return redirect("desk:conversation-detail", conversation.pk)


def conversation_or_404(conversation_id: int) -> Conversation:
    try:
        return queries.get_conversation(conversation_id)
    except Conversation.DoesNotExist as exc:
        raise Http404("no such conversation") from exc


def render_thread(
    request: HttpRequest,
    conversation: Conversation,
    *,
    form: ReplyForm,
    status: int = 200,
) -> HttpResponse:
    watermark = queries.desk_watermark()
    messages = queries.list_messages_for_conversation(conversation)
    context = {
        "conversation": conversation,
        "messages": list(messages),
        "sms_consent": queries.conversation_has_sms_consent(conversation),
        "form": form,
        "watermark": watermark,
    }
    return render(request, "desk/conversation_detail.html", context, status=status)


@login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    return render_tasks(request)


@login_required
@require_POST
def complete_task(request: HttpRequest, task_id: int) -> HttpResponse:
    task = task_or_404(task_id)
    form = CompleteTaskForm(request.POST)
    if not form.is_valid():
        notice = f"Not recorded: choose how the call to {task.contact} ended."
        return render_tasks(request, notice=notice, status=400)
    try:
        services.complete_call_task(
            task,
            agent=request.user,
            disposition=form.cleaned_data["disposition"],
            notes=form.cleaned_data["notes"],
        )
    except CallTaskNotOpenError:
        # Another agent closed it first, or its campaign cancelled it.
        notice = f"The call to {task.contact} was already closed: nothing recorded."
        return render_tasks(request, notice=notice, status=409)
    return redirect("desk:task-list")


def task_or_404(task_id: int) -> CallTask:
    try:
        return queries.get_task(task_id)
    except CallTask.DoesNotExist as exc:
        raise Http404("no such task") from exc


def render_tasks(
    request: HttpRequest, *, notice: str = "", status: int = 200
) -> HttpResponse:
    watermark = queries.desk_watermark()
    context = {
        "tasks": list(queries.list_open_tasks()[:MAX_TASKS]),
        "form": CompleteTaskForm(),
        "notice": notice,
        "watermark": watermark,
    }
    return render(request, "desk/task_list.html", context, status=status)
