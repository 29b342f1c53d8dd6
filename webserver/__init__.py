"""The REST API: a falcon WSGI application served by gunicorn."""
