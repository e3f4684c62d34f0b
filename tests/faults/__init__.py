"""Fault drills (issue 7): a regency on one machine under faults; see docs/faults.md."""
