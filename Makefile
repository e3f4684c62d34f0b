# Siaga 112: `make demo` runs a demo regency (central, two posko, a Damkar station), `make test` runs every test.
# Both set up everything they need on a fresh Debian 12 machine (as root: apt packages).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-data
PORT ?= 8112

APT_PACKAGES := python3-venv python3-pip chromium mosquitto mosquitto-clients faketime gammu direwolf poppler-utils postgresql systemd

.PHONY: demo test lint system-deps venv clean help screenshots bench fuzz test-faults

help:
	@echo "make demo   - start a demo regency: posko-a on http://127.0.0.1:$(PORT)/, central on port +2 (prints logins)"
	@echo "make test   - lint and run the whole test suite (installs what it needs)"
	@echo "make fuzz   - long fuzzing run: tests/fuzz with SIAGA112_FUZZ=long, then the atheris harnesses"
	@echo "make test-faults - long fault drill: 5000 operations under broker/daemon kills, link faults, skew, disk full"

system-deps:
	@bash .ci/system-deps.sh $(APT_PACKAGES)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/siaga112 demo --data-dir $(DEMO_DIR) --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) lint
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache *.egg-info

screenshots: $(STAMP)
	SIAGA112_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -q tests/browser

bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

FUZZ_SECONDS ?= 120

fuzz: $(STAMP)
	SIAGA112_FUZZ=long $(PY) -m pytest -q tests/fuzz
	@if $(PY) -m pip install --quiet atheris; then \
	  $(PY) tests/fuzz/atheris_envelope.py -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 && \
	  $(PY) tests/fuzz/atheris_at.py -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; \
	else echo "atheris did not install (it needs a wheel or clang/libFuzzer): harnesses skipped"; fi

FAULT_ARGS ?= --ops 5000

# The long fault drill (docs/faults.md); `make test` runs a short one (tests/faults/test_drill.py).
test-faults: $(STAMP)
	$(PY) -m tests.faults $(FAULT_ARGS)
