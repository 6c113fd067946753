# Set-up and everyday commands. Needs only python3 (3.11+), pip and make: uv is installed
# with pip when missing, and builds .venv from uv.lock.

PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
SYNCED := .venv/.synced

.PHONY: demo test lint format bench clean

$(SYNCED): pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv \
		|| $(PYTHON) -m pip install --quiet --break-system-packages uv
	$(UV) sync --locked --all-packages --compile-bytecode --python $(PYTHON)
	@touch $@

demo: $(SYNCED)
	$(RUN) python examples/pipeline.py

test: $(SYNCED)
	@scripts/ensure-postgres.sh  # the store's tests start their own PostgreSQL server
	$(RUN) pytest -n 2  # two workers (pytest-xdist): the machines have two cores

lint: $(SYNCED)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports --no-logo --no-cache  # the import contracts in pyproject.toml

format: $(SYNCED)
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

bench: $(SYNCED)
	$(RUN) python bench/overhead.py
	$(RUN) python bench/blocks.py
	$(RUN) python bench/results.py
	$(RUN) python bench/node_overhead.py
	$(RUN) python bench/dask_fanout.py
	$(RUN) python bench/spool.py
	$(RUN) python bench/startup.py
	$(RUN) python bench/cli_large.py
	$(RUN) python bench/server.py
	$(RUN) python bench/scheduler.py

clean:
	rm -rf .venv build *.egg-info .pytest_cache .ruff_cache
