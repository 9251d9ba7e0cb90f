"""Sign-in throttling holds across processes (issue 15, item 5): ten processes guessing at once
do not all get their guess checked, because the wait, the check and the counter move in one
write transaction; an unknown name is checked against a dummy hash like a known one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clinic_app.storage import users as users_module
from clinic_app.storage.database import open_database
from clinic_app.storage.permissions import Role
from clinic_app.storage.users import FAILURES_BEFORE_DELAY, SignInRefused

ADMIN_PW = "admin password 1"
NURSE_PW = "nurse password 1"
GUESSERS = 10

GUESS = """
import sys, time
from pathlib import Path
from clinic_app.storage.database import open_database
from clinic_app.storage.users import SignInRefused
db, go = sys.argv[1], Path(sys.argv[2])
record = open_database(db, busy_timeout_ms=60000)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
try:
    record.repos.users.authenticate("nurse.a", "a wrong guess 123")
except SignInRefused as exc:
    print("checked" if "wrong" in exc.message else "waited", flush=True)
"""


@pytest.fixture
def accounts(db_path: Path) -> Path:
    with open_database(db_path) as rec:
        rec.repos.users.create_first_administrator("admin", "Ada Admin", ADMIN_PW)
        rec.repos.users.authenticate("admin", ADMIN_PW)
        rec.set_user("admin")
        rec.repos.users.add("nurse.a", "Nora Nurse", Role.NURSE, NURSE_PW)
    return db_path


def test_ten_parallel_wrong_guesses_are_not_all_checked(accounts: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", GUESS, str(accounts), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(GUESSERS)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()  # all ten guess at the same moment
    outcomes = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        outcomes.append(out.strip())
    # Failures 1 and 2 carry no delay; the third sets one, so guesses 4-10 wait unchecked.
    assert outcomes.count("checked") == FAILURES_BEFORE_DELAY, outcomes
    assert outcomes.count("waited") == GUESSERS - FAILURES_BEFORE_DELAY
    with open_database(accounts) as rec:
        assert rec.repos.users.get("nurse.a").failed_attempts == FAILURES_BEFORE_DELAY
        (count,) = rec.sql.execute("SELECT count(*) FROM sign_in_failures").fetchone()
        assert count == FAILURES_BEFORE_DELAY
    print(f"\n{GUESSERS} parallel guesses: {outcomes.count('checked')} checked")


def test_an_unknown_name_is_checked_against_a_hash_too(
    accounts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = users_module._verify

    def counting(stored: str, password: str) -> bool:
        checked.append(stored[:9])
        return real(stored, password)

    monkeypatch.setattr(users_module, "_verify", counting)
    with open_database(accounts) as rec:
        for name in ("nurse.a", "nobody"):
            with pytest.raises(SignInRefused, match="username or password is wrong"):
                rec.repos.users.authenticate(name, "a wrong guess 123")
    # One Argon2id verification each: the unknown name costs the same work as the known one.
    assert checked == ["$argon2id", "$argon2id"]
