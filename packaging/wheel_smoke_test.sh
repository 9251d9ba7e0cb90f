#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment away from the checkout, and
# check it the way a clinic's first `pip install` would be used:
#   1. every Qt Designer form loads from the installed clinic_app_ui package (offscreen);
#   2. Help > User guide opens the guide from the installed clinic_app_docs package, with every
#      page and picture it links to;
#   3. the installed `clinic-app` passes the same smoke test as the desktop bundle
#      (packaging/smoke_test.sh: version, protocols, demo, setting, card PDF text, account,
#      window still up after 8 s).
# Only the app's own dependencies are installed (pinned by constraints.txt), never the test tools.
# Usage: packaging/wheel_smoke_test.sh [PYTHON]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { printf 'wheel-smoke: %s\n' "$*"; }
fail() { printf 'wheel-smoke: FAILED: %s\n' "$*" >&2; exit 1; }

step "build the wheel"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" "$here" \
  || fail "pip wheel exited $?"
wheel="$(ls "$work"/dist/clinic_app-*.whl)"
echo "  $(basename "$wheel")"

step "install it into a fresh environment"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c "$here/constraints.txt" "$wheel" || fail "pip install exited $?"
for tool in pytest ruff mypy pandas lifelines; do
  if "$work/venv/bin/python" -c "import $tool" 2>/dev/null; then fail "$tool was installed"; fi
done

step "every form loads from the installed package"
cd "$work"
unset CLINIC_APP_DB CLINIC_APP_RESOURCES CLINIC_APP_FONT_DIR PYTHONPATH PYTHONHOME VIRTUAL_ENV
QT_QPA_PLATFORM=offscreen "$work/venv/bin/python" - "$here" <<'PY' || fail "a form did not load"
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

import clinic_app
from clinic_app.core.resources import resources_dir, ui_dir
from clinic_app.gui.uiload import load_ui

checkout = Path(sys.argv[1]).resolve()
for used in (Path(clinic_app.__file__), ui_dir(), resources_dir()):
    if checkout in used.resolve().parents:
        sys.exit(f"the installed app used the checkout: {used}")
app = QApplication([])
forms = sorted(ui_dir().glob("*.ui"))
if not forms:
    sys.exit(f"no forms in {ui_dir()}")
for form in forms:
    widget = load_ui(form.name)
    print(f"  {form.name}: {type(widget).__name__}")
PY

step "Help > User guide opens the installed guide"
QT_QPA_PLATFORM=offscreen "$work/venv/bin/python" - "$here" <<'PY' || fail "the user guide is missing"
import re
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from clinic_app.core.resources import docs_dir
from clinic_app.gui.help_menu import GuideViewer, guide_path

checkout = Path(sys.argv[1]).resolve()
if checkout in docs_dir().resolve().parents:
    sys.exit(f"the installed app used the checkout: {docs_dir()}")
path = guide_path()
if path is None:
    sys.exit(f"no user guide in {docs_dir()}")
app = QApplication([])
viewer = GuideViewer()
heading = next(line[2:].strip() for line in path.read_text("utf-8").splitlines() if line[:2] == "# ")
if heading not in viewer.text.toPlainText():
    sys.exit(f"the guide viewer does not show {heading!r}")
links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text("utf-8"))
missing = [link for link in links if not (path.parent / link).is_file()]
if missing:
    sys.exit(f"the guide links to files the wheel lacks: {missing}")
print(f"  {path} ({len(links)} links, all present)")
PY

step "the installed program passes the bundle's smoke test"
bash "$here/packaging/smoke_test.sh" "$work/venv/bin/clinic-app"
step "all checks passed"
