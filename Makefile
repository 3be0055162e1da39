# The two commands of the README: `make run` (quick start on SQLite) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The tests run against the real PostgreSQL and Redis of this machine (scripts/ensure-services).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/costledger
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test install install-dev services lint browser pdf-libs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The quick start always runs on its own SQLite file, whatever DATABASE_URL a .env may hold:
# demo data must never land in a real database.
QUICKSTART := DEBUG=1 DATABASE_URL=sqlite:///$(CURDIR)/db.sqlite3 REDIS_URL=

run: $(VENV)/.installed pdf-libs
	$(QUICKSTART) $(BIN)/python manage.py migrate --noinput
	$(QUICKSTART) $(BIN)/python manage.py load_prices
	$(QUICKSTART) $(BIN)/python manage.py seed_demo
	$(QUICKSTART) $(BIN)/python manage.py create_admin
	@echo "Serving on http://127.0.0.1:8000/admin/ (Ctrl-C stops)"
	$(QUICKSTART) $(BIN)/python manage.py runserver 127.0.0.1:8000

services:
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) scripts/ensure-services

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# The browser test drives Debian's chromium through Playwright's Python package; nothing is
# downloaded at run time (never `playwright install`).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium fonts-dejavu-core; \
	else \
		echo "The browser test needs Debian's chromium at $(CHROMIUM): run" \
			"'sudo apt-get install chromium' once (make test installs it when run as root)." >&2; \
		exit 1; \
	fi

browser: $(CHROMIUM)

# Customer invoices are rendered to PDF by WeasyPrint, which draws text with Pango (Debian
# bookworm's packages; the Dockerfile installs the same).
PDF_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0

pdf-libs:
	@if ! ldconfig -p | grep -q 'libpangoft2-1.0.so.0'; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Pango for the invoice PDFs"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends $(PDF_LIBS) fonts-dejavu-core; \
		else \
			echo "Invoice PDFs need Pango: run 'sudo apt-get install $(PDF_LIBS)' once" \
				"(make installs it when run as root)." >&2; \
			exit 1; \
		fi; \
	fi

test: $(VENV)/.installed-dev services lint browser pdf-libs
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache
