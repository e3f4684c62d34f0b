"""libFuzzer (atheris) harness for the AT response parser; run by `make fuzz`.

Why this exists: coverage-guided fuzzing of the modem byte stream (see test_at_fuzz.py for the
hypothesis side). The first input byte picks the command in flight and the chunk size; the
rest is the modem's output. ResponseParser must never raise; the field parsers only AtParseError.

    python tests/fuzz/atheris_at.py -max_total_time=60 [corpus_dir]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from firmware_bridge.modem.at import (
        AtParseError,
        ResponseParser,
        parse_clip,
        parse_cmgl_cmgr_header,
        parse_cmti,
        parse_creg,
        parse_csq,
        parse_final,
    )

COMMANDS = [None, "AT", "AT+CSQ", "AT+CMGS=23", "AT+CMGR=1", "AT+CMGL=4", "ATD112;", "ATA", "ATI", "AT+CUSD=1"]
PARSERS = (parse_clip, parse_csq, parse_creg, parse_cmti, parse_cmgl_cmgr_header)
SEEDS = [b'\x02AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n', b'\x00\r\n+CMTI: "SM",7\r\n', b'\x00+CLIP: "0812",129,,,,0\r\n',
         b"\x03> 0011000B916407281553F80000AA0AE8329BFD4697D9EC37\x1a\r\n+CMGS: 5\r\n\r\nOK\r\n",
         b"\x00+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07\r\n",
         b"\x01+CME ERROR: 10\r\n", b"\x00+CDS: 25\r\n0006D60B911326880736F4111011719551401110117195714000\r\n"]


def test_one_input(data: bytes) -> None:
    if not data:
        return
    parser = ResponseParser()
    command = COMMANDS[data[0] % len(COMMANDS)]
    if command:
        parser.begin(command)
    step = 1 + (data[0] >> 4) * 4
    body = data[1:]
    for at in range(0, len(body), step):
        parser.feed(body[at : at + step])
    parser.flush()
    for line in body.decode("utf-8", "replace").splitlines():
        for parse in PARSERS:
            try:
                parse(line)
            except AtParseError:
                pass
        parse_final(line)


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = Path(tempfile.mkdtemp(prefix="siaga112-fuzz-at-"))
        for i, seed in enumerate(SEEDS):
            (corpus / f"seed-{i}").write_bytes(seed)
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
