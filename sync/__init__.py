"""Sync: offline-first encrypted replication between nodes over MQTT (issue 3)."""
