"""Tests of the sync layer: PKI, broker configuration, replication over a real Mosquitto."""
