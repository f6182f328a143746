# The two commands a newcomer runs: `make demo` and `make test`.
# Both set up everything they need: a virtual environment with the pip extras,
# and Debian packages (data set, toolchains) through scripts/setup.d/.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.vp-edge-installed
RUN    ?= runs/demo

.PHONY: demo demo-quick demo-long test test-fast bench lint docs setup clean

$(STAMP): pyproject.toml $(wildcard setup.py)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[train,test,fleet,fpga]"
	@touch $(STAMP)

setup: $(STAMP)
	@for s in scripts/setup.d/*.sh; do bash "$$s" || exit $$?; done

demo: setup
	$(BIN)/vp-edge demo --out $(RUN) --json $(RUN)/summary.json
	@$(BIN)/python -m experiments.demo_figures $(RUN)/summary.json || true

demo-quick: setup
	$(BIN)/vp-edge demo --quick --out runs/quick --json runs/quick/summary.json

# the budget of the README's accuracy claims: five epochs on all 54,000 training images
demo-long: setup
	$(BIN)/vp-edge demo --long --out runs/long --json runs/long/summary.json

test: setup
	$(BIN)/python -m pytest -q --durations=30 tests

# the inner loop: host-only unit tests (no training, emulated boards, QEMU or hardware)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not tf and not hil" tests/unit tests/bridge

# the full benchmark report (bench/README.md), from the run `make demo` leaves
bench: setup
	$(BIN)/vp-edge bench --run $(RUN) --out bench/results

# ruff check, ruff format --check, and mypy held to pyproject's per-package record (0 errors
# on firmware_bridge, converters, boards; vp_edge and experiments may only fall)
LINTED := vp_edge boards converters firmware_bridge fpga experiments tests scripts
lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python scripts/mypy_counts.py --mypy "$(BIN)/python -m mypy"

# the documentation site (docs/, mkdocs.yml) at http://127.0.0.1:8000
docs: $(STAMP)
	$(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) .venv-pynq build *.egg-info runs
