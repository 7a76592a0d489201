import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "regal.settings")
# A web process takes its database connections from a pool (regal/settings.py
# says why). The flag is read as the settings load, just below, and taken out
# again so that no process this one starts inherits it.
pool_flag_set = "REGAL_DB_POOL" not in os.environ
if pool_flag_set:
    os.environ["REGAL_DB_POOL"] = "1"
# Django must be set up before the consumers' modules import models.
django_http = get_asgi_application()
if pool_flag_set:
    del os.environ["REGAL_DB_POOL"]

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from agents.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Serves the admin's and the desk's static files from the apps, so a
        # fresh install needs no collectstatic and no proxy in front.
        "http": ASGIStaticFilesHandler(django_http),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
