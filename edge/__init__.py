"""Edge node: the posko / agency-station incident app (Flask + SQLite), usable fully offline."""
