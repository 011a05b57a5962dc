# hotline: `make run` starts the server (SQLite, zero configuration); `make test` runs every test.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test lint migrate bench soak build release deps fmt

deps:
	@scripts/ensure-deps.sh

run: deps
	$(CARGO) run --bin hotline -- serve

build: deps
	$(CARGO) build --workspace

release: deps
	$(CARGO) build --release --bin hotline

migrate: deps
	$(CARGO) run --bin hotline -- migrate

test: deps
	@if [ -z "$$HOTLINE_TEST_POSTGRES_URL" ]; then \
	  echo "!!!! HOTLINE_TEST_POSTGRES_URL is unset: the PostgreSQL half of every test is SKIPPED."; \
	  echo "!!!! Run e.g. HOTLINE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test make test"; \
	fi
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Figures, not pass/fail. Set HOTLINE_TEST_POSTGRES_URL to include PostgreSQL.
bench: deps
	$(CARGO) bench -p crypto --bench crypto
	$(CARGO) bench -p persistence --features testing --bench audit
	$(CARGO) bench --bench load

# The load generator at twenty times the requests of `make bench`: minutes, not seconds.
soak: deps
	HOTLINE_BENCH_REQUESTS=20000 $(CARGO) bench --bench load
