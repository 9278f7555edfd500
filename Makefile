# The two commands: `make demo` (train, evaluate and plot on the embedded default dataset)
# and `make test`. Both create .venv from a fresh clone when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-slow test-reliability test-isa test-random demo lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# facenet-pytorch pins torch<2.3 in its metadata; its module works with current torch and
	# is only a test reference, so it goes in without its pins (requests is what it imports).
	$(PY) -m pip install --quiet requests
	$(PY) -m pip install --quiet --no-deps 'facenet-pytorch>=2.5'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# The hardware-dependent tests once per CPU level this machine has (tests/isa_levels.py).
test-isa: $(STAMP)
	$(PY) tests/isa_levels.py

# The suite in a random order (module buckets shuffled, then tests within them): order effects.
test-random: $(STAMP)
	$(PY) -m pytest -q -p random_order --random-order

test-reliability: $(STAMP)
	$(PY) -m pytest -q -m slow tests/reliability

# The embedded dataset is Fashion-MNIST from Debian's dataset-fashion-mnist: installed here when
# run as root with apt-get (the library never changes the system); otherwise the demo says so
# and falls back to scikit-learn's digits.
FASHION := /usr/share/datasets/fashion-mnist

demo: $(STAMP)
	@if [ ! -d $(FASHION) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "demo: installing dataset-fashion-mnist with apt-get"; \
		apt-get install -y dataset-fashion-mnist >/dev/null || \
			echo "demo: apt-get install dataset-fashion-mnist failed; using the fallback"; \
	fi
	$(PY) -m inception_v4.demo

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks examples

bench: $(STAMP)
	$(PY) -m inception_v4 bench

clean:
	rm -rf $(VENV) build *.egg-info
