"""Siaga 112 test suite: real parts (SQLite files, the app, a browser), organised by feature."""
