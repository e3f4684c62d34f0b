"""libFuzzer (atheris) harness for the sync envelope decoder and the payload codec; run by `make fuzz`.

Why this exists: hypothesis (tests/fuzz/test_envelope_fuzz.py) explores inputs we describe;
coverage-guided fuzzing finds the byte sequences that reach branches we did not think of.
Not part of `make test` (it runs until a time limit). Usage:

    python tests/fuzz/atheris_envelope.py -max_total_time=60 [corpus_dir]

Any exception other than EnvelopeError / BadPayload is a crash: libFuzzer stops and writes the
input to crash-<sha1>; pin it as an @example in test_envelope_fuzz.py and fix the decoder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from sync import codec
    from sync.envelope import EnvelopeError, Kind, NodeKeys, directory_from_json, open_envelope, peek_header, seal

ALICE = NodeKeys.generate("posko-a")
BOB = NodeKeys.generate("central")
DIRECTORY = directory_from_json({k.node: k.directory_entry() for k in (ALICE, BOB)})


def seeds() -> list[bytes]:
    """Valid envelopes and payloads to start from (libFuzzer mutates these)."""
    batch = codec.encode_batch([], 5)
    return [seal(ALICE, DIRECTORY["central"], Kind.CHANGES, 1, batch, sent_at_ms=1),
            seal(ALICE, DIRECTORY["central"], Kind.ACK, 2, codec.encode_ack(3, 1), sent_at_ms=2), batch]


def test_one_input(data: bytes) -> None:
    try:
        open_envelope(data, BOB, DIRECTORY)
    except EnvelopeError:
        pass
    try:
        peek_header(data)
    except EnvelopeError:
        pass
    if len(data) > 64:  # re-signed by a known sender: reaches decryption
        try:
            open_envelope(data[:-64] + ALICE.sign_private.sign(data[:-64]), BOB, DIRECTORY)
        except EnvelopeError:
            pass
    for decode in (codec.decode_batch, codec.decode_ack):
        try:
            decode(data)
        except codec.BadPayload:
            pass


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):  # no corpus given: a fresh one with seeds
        corpus = Path(tempfile.mkdtemp(prefix="siaga112-fuzz-envelope-"))
        for i, seed in enumerate(seeds()):
            (corpus / f"seed-{i}").write_bytes(seed)
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
