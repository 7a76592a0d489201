from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from events.api.urls import api_urlpatterns as event_api_urlpatterns
from events.api.urls import regal_urlpatterns as regal_event_urlpatterns

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="desk:conversation-list")),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("desk/", include("agents.desk.urls")),
    path("twilio/", include("agents.urls")),
    path("v1/", include("events.api.urls")),
    path("", include(regal_event_urlpatterns)),
    path("api/v1/", include("contacts.api.urls")),
    path("api/v1/", include(event_api_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler404 = "regal.views.not_found"
handler500 = "regal.views.server_error"
