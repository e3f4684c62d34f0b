"""WSGI entry point for gunicorn: `gunicorn 'edge.wsgi:app'`.

The node comes from $SIAGA112_CONFIG (the siaga112.toml named there, [node] data_dir; what
siaga112-web.service sets) or else from $SIAGA112_DATA_DIR. Logging is set up by
edge.logsetup from the same file's [log] (or $SIAGA112_LOG_LEVEL / $SIAGA112_LOG_FORMAT).
"""

import os

from edge import logsetup
from edge.app import create_app

if os.environ.get("SIAGA112_CONFIG"):
    from edge.config import load_config

    _config = load_config(os.environ["SIAGA112_CONFIG"])
    logsetup.configure(_config.log.level, _config.log.format, node=_config.node.id)
    app = create_app(_config.data_dir)
else:
    logsetup.configure()
    app = create_app()
