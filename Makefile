# Two commands on a fresh machine: `make run` and `make test`. Both build a virtual environment
# from the exact pins in constraints.txt: `make run` one with only what the app needs
# (.venv-app), `make test` one with the test tools as well (.venv). Both install the system
# packages they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APP_VENV := .venv-app
APP_STAMP := $(APP_VENV)/.installed
CORE_VENV := .venv-core
CORE_STAMP := $(CORE_VENV)/.installed

.PHONY: run test wheel-smoke lint typecheck layers pytest test-core-pure sysdeps sysdeps-test pins clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

# The app's own environment: its runtime dependencies and nothing else (no test tools, so
# nothing such as pandas is imported at start-up by a library that merely finds it installed).
$(APP_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(APP_VENV)
	$(APP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	touch $@

run: $(APP_STAMP) sysdeps
	$(APP_VENV)/bin/clinic-app $(ARGS)

sysdeps:
	bash .ci/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check clinic_app tests benchmarks scripts packaging
	$(BIN)/ruff format --check clinic_app tests benchmarks scripts packaging

typecheck: $(STAMP)
	$(BIN)/mypy clinic_app/core clinic_app/storage clinic_app/reports

layers: $(STAMP)
	$(BIN)/lint-imports

# The tests also need a PostgreSQL server's programs: they start a throwaway server of their
# own (tests/pg_server.py). CLINIC_APP_REQUIRE_PG=1 makes them fail, not skip, without one.
sysdeps-test:
	bash .ci/install-system-deps.sh --tests

pytest: $(STAMP) sysdeps-test
	CLINIC_APP_REQUIRE_PG=1 $(BIN)/python -m pytest

# The core must work where PySide6 is not installed at all.
$(CORE_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt pytest hypothesis
	$(CORE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

test-core-pure: $(CORE_STAMP)
	$(CORE_VENV)/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('PySide6') is not None)"
	$(CORE_VENV)/bin/python -m pytest -p no:cacheprovider -o required_plugins= tests/core clinic_app/core

# CI also builds the desktop bundle and smoke-tests the built program (issue: packaging).
test: lint typecheck layers pytest test-core-pure wheel-smoke bundle-smoke

# The wheel, installed into a fresh environment away from the checkout: every form loads and the
# installed program passes the bundle's smoke test (packaging/wheel_smoke_test.sh).
wheel-smoke: $(STAMP) sysdeps
	bash packaging/wheel_smoke_test.sh $(PYTHON)

pins:
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Exact pins by name and version (no download addresses). Regenerate with: make pins' > constraints.txt

clean:
	rm -rf $(VENV) $(APP_VENV) $(CORE_VENV) build dist *.egg-info

# -- desktop packaging (packaging/README.md) --------------------------------------------------
# One-folder PyInstaller build in dist/clinic-app/ (about 45 s), then its headless smoke test
# (about 15 s). PyInstaller comes from the `bundle` extra, pinned in constraints.txt.

.PHONY: bundle bundle-smoke screenshots

bundle: $(STAMP) sysdeps
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bundle]'
	$(BIN)/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/clinic-app.spec

bundle-smoke: bundle
	bash packaging/smoke_test.sh dist/clinic-app/clinic-app

screenshots: $(STAMP) sysdeps
	xvfb-run -a -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb $(BIN)/python scripts/make_screenshots.py
