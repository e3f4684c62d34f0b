"""One settings profile for every fuzz test: short inside `make test`, long under `make fuzz`.

Why this exists: the fuzzers in tests/fuzz must be cheap enough to run on every `make test`
yet able to run for a long time on demand. `SIAGA112_FUZZ=long` (set by `make fuzz`) raises the
example count to 20,000 per test (`SIAGA112_FUZZ_EXAMPLES` sets another). The profile is
applied per test with `@FUZZ` (not loaded globally) so the rest of the suite keeps its own
hypothesis settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("SIAGA112_FUZZ", "").lower() == "long"
SHORT_EXAMPLES = 300
LONG_EXAMPLES = int(os.environ.get("SIAGA112_FUZZ_EXAMPLES", "20000"))  # per decoder test in the long run

FUZZ = settings(
    max_examples=LONG_EXAMPLES if LONG else SHORT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def examples(short: int, long: int = LONG_EXAMPLES) -> settings:
    """FUZZ with another example count (for costly targets such as the HTTP API)."""
    return settings(FUZZ, max_examples=long if LONG else short)
