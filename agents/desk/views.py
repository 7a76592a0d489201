from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from agents import queries
from agents.models import Conversation


@login_required
def conversation_list(request):
    conversations = queries.list_conversations()[:200]
    return render(
        request,
        "desk/conversation_list.html",
        {
            "conversations": conversations,
            "last_message_id": queries.latest_message_id(),
        },
    )


@login_required
def conversation_detail(request, conversation_id: int):
    try:
        conversation = queries.get_conversation(conversation_id)
    except Conversation.DoesNotExist as exc:
        raise Http404("no such conversation") from exc
    return render(
        request,
        "desk/conversation_detail.html",
        {
            "conversation": conversation,
            "messages": conversation.messages.order_by("created_at", "id"),
            "last_message_id": queries.latest_message_id(),
        },
    )
