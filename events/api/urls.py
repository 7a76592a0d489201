from django.urls import path
from rest_framework.routers import SimpleRouter

from events.api.views import (
    BatchView,
    ContactEventListView,
    EventViewSet,
    IngestView,
    RegalEventView,
)

urlpatterns = [
    path("batch", BatchView.as_view(), name="ingest-batch"),
    path("import", BatchView.as_view(), name="ingest-import"),
    *(
        path(kind, IngestView.as_view(event_type=kind), name=f"ingest-{kind}")
        for kind in ("track", "identify", "page", "screen", "alias", "group")
    ),
]

# Regal's own events API, at /events (regal/urls.py).
regal_urlpatterns = [path("events", RegalEventView.as_view(), name="regal-events")]

# The read API, under /api/v1/ (regal/urls.py); token auth, not write keys.
router = SimpleRouter()
router.register("events", EventViewSet, basename="event")

api_urlpatterns = [
    *router.urls,
    path(
        "contacts/<int:contact_id>/events/",
        ContactEventListView.as_view(),
        name="contact-events",
    ),
]
