"""Radio modem layers: KISS framing, AX.25 UI frames and a reliable channel over a KISS TNC."""
