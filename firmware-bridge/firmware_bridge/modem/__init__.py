"""GSM modem layers: GSM 03.38 alphabet, SMS PDU codec, AT response parser (pure), then the device."""
