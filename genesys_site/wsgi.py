"""WSGI entry point (the ASGI one, genesys_site.asgi, is what daphne serves)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genesys_site.settings")
application = get_wsgi_application()
