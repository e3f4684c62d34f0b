"""Tests of the firmware bridge: GSM alphabet, SMS PDUs, AT parsing, modem emulator, radio."""
