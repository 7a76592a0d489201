from django.urls import path

from events.api.views import BatchView, IngestView

urlpatterns = [
    path("batch", BatchView.as_view(), name="ingest-batch"),
    path("import", BatchView.as_view(), name="ingest-import"),
    *(
        path(kind, IngestView.as_view(event_type=kind), name=f"ingest-{kind}")
        for kind in ("track", "identify", "page", "screen")
    ),
]
