"""WSGI entry point for gunicorn: `gunicorn 'edge.wsgi:app'` with SIAGA112_DATA_DIR set."""

from edge.app import create_app

app = create_app()
