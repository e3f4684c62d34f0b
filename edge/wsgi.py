"""WSGI entry point for gunicorn: `gunicorn 'edge.wsgi:app'`.

The node comes from $SIAGA112_CONFIG (the siaga112.toml named there, [node] data_dir; what
siaga112-web.service sets) or else from $SIAGA112_DATA_DIR.
"""

import os

from edge.app import create_app

if os.environ.get("SIAGA112_CONFIG"):
    from edge.config import load_config

    app = create_app(load_config(os.environ["SIAGA112_CONFIG"]).data_dir)
else:
    app = create_app()
