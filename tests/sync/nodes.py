"""In-process handles on several nodes' databases (real SQLite files), switching the model
binding between them, for tests of change capture and apply without the network."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from edge.db import open_database
from edge.models import db_proxy
from edge.services.node import init_node


class NodeDB:
    def __init__(self, data_dir: Path, node_id: str, role: str = "posko") -> None:
        self.data_dir = data_dir
        self.node_id = node_id
        result = init_node(data_dir, node_id, role, "bengkalis")
        result.db.close()

    @contextmanager
    def use(self):
        db = open_database(self.data_dir)
        try:
            with db.connection_context():
                yield db
        finally:
            db_proxy.initialize(None)
