from django.urls import path

from agents.desk import views

app_name = "desk"
urlpatterns = [
    path("", views.conversation_list, name="conversation-list"),
    path(
        "conversations/<int:conversation_id>/",
        views.conversation_detail,
        name="conversation-detail",
    ),
    path(
        "conversations/<int:conversation_id>/reply/",
        views.reply,
        name="conversation-reply",
    ),
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/<int:task_id>/complete/", views.complete_task, name="task-complete"),
]
