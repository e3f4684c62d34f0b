"""Bridge daemon: GSM modem and radio (KISS) hardware tied to the incident app (issue 4)."""
