#!/usr/bin/env bash
# Start the BUILT program headless and check what a clinic would notice first:
#   1. --version answers (the bundle starts at all);
#   2. `protocols` loads both protocol files (resources/ travelled);
#   3. `demo` fills a temporary record, `settings set clinic.phone` stores the number;
#   4. `card MRN --cycle 1` prints a dosing card whose PDF has text, including the phone
#      (fonts and the report code travelled);
#   5. the desktop app opens on that record (Qt offscreen) and is still running 8 s later;
#   6. the PostgreSQL driver travelled (an unreachable server is one sentence).
# Usage: packaging/smoke_test.sh [PATH/TO/clinic-app]   (default: dist/clinic-app/clinic-app)
# Needs pdftotext (poppler-utils) for the text check. Runs in a temporary folder with a
# temporary HOME, so it never touches a real record or settings file.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
app="${1:-$here/dist/clinic-app/clinic-app}"
app="$(cd "$(dirname "$app")" && pwd)/$(basename "$app")"
[ -x "$app" ] || { echo "smoke: no program at $app (run make bundle first)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# Nothing from the development environment may help the bundle find its files.
unset CLINIC_APP_DB CLINIC_APP_RESOURCES CLINIC_APP_FONT_DIR PYTHONPATH PYTHONHOME VIRTUAL_ENV
export HOME="$work/home" CLINIC_APP_CONFIG="$work/home/settings.json" QT_QPA_PLATFORM=offscreen
mkdir -p "$HOME"
db="$work/smoke.sqlite3"
PHONE="+44 20 7946 0123"

step() { printf 'smoke: %s\n' "$*"; }
fail() { printf 'smoke: FAILED: %s\n' "$*" >&2; exit 1; }

step "version"
version="$("$app" --version)" || fail "--version exited $?"
[[ "$version" == clinic-app\ [0-9]* ]] || fail "--version printed '$version'"
[[ "$version" != *"+source"* ]] || fail "the bundle has no package metadata ('$version')"
echo "  $version"

step "protocols"
protocols="$("$app" protocols)" || fail "protocols exited $?"
grep -q "^dextr " <<<"$protocols" || fail "DexTR protocol not loaded: $protocols"
grep -q "^bpd " <<<"$protocols" || fail "BPD protocol not loaded: $protocols"

step "clinic server driver"
# The server driver travelled: an unreachable server is one sentence, not a missing module.
out="$("$app" check --db "postgresql://nurse@/clinic?host=$work/no-server&connect_timeout=2" 2>&1)" \
  && fail "check on an unreachable server exited 0"
grep -q "cannot be reached" <<<"$out" || fail "unreachable server said: $out"

step "demo record"
"$app" demo --db "$db" --patients 6 --seed 3 --today 2025-03-03 || fail "demo exited $?"

step "clinic phone setting"
"$app" settings set clinic.phone "$PHONE" --db "$db" --reason "smoke test" \
  || fail "settings set exited $?"
[ "$("$app" settings get clinic.phone --db "$db")" = "$PHONE" ] || fail "phone not stored"

step "dosing card"
mrn="DEMO-00001"  # demo MRNs are DEMO-00001 upwards; with --seed 3 this one has cycle 1
"$app" card "$mrn" --cycle 1 -o "$work/card.pdf" --db "$db" || fail "card exited $?"
[ -s "$work/card.pdf" ] || fail "card.pdf missing or empty"
head -c 5 "$work/card.pdf" | grep -q '%PDF-' || fail "card.pdf is not a PDF"
if command -v pdftotext >/dev/null 2>&1; then
  text="$(pdftotext -layout "$work/card.pdf" -)"
  grep -q "$mrn" <<<"$text" || fail "the card does not show MRN $mrn"
  grep -qF "$PHONE" <<<"$text" || fail "the card does not show the clinic phone"
  echo "  card for MRN $mrn: $(wc -w <<<"$text") words, phone printed"
else
  fail "pdftotext is not installed (apt-get install poppler-utils)"
fi
step "user account (Argon2id password hashing in the bundle)"
printf '%s\n%s\n' "smoke-password-123" "smoke-password-123" \
  | "$app" users add smoke.admin --full-name "Smoke Admin" --role administrator --db "$db" \
  || fail "users add exited $?"
"$app" users list --db "$db" | grep -q "smoke.admin" || fail "users list does not show the account"
step "desktop window (offscreen, 8 s)"
status=0
timeout 8 "$app" --db "$db" 2>"$work/gui.err" || status=$?
[ "$status" -eq 124 ] || fail "the app stopped by itself (exit $status): $(cat "$work/gui.err")"
if grep -q "Traceback" "$work/gui.err"; then fail "the app logged an error: $(cat "$work/gui.err")"; fi
step "all checks passed"
