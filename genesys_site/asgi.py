"""ASGI entry point: HTTP through Django, websockets through Channels (session auth, origin check)."""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genesys_site.settings")
django_asgi_app = get_asgi_application()

from evolution.live.routing import websocket_urlpatterns  # noqa: E402 - needs the app registry

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

if os.environ.get("GENESYS_WARM_KNOWLEDGE") == "1":  # set by run_studio; see docs/DEPLOYMENT.md
    from knowledge.engine import warm_in_background

    warm_in_background()
