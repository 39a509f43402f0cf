"""Entry point for gunicorn: `gunicorn wsgi:app`."""

from ivr import create_app
from ivr.config import check_serving, load_settings

settings = load_settings()
check_serving(settings)  # outside development, only with IVR_PUBLIC_BASE_URL
app = create_app(settings)
