"""``clinic-app users ...`` and ``--user`` on the commands that change the record."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.storage.database import open_database

from .conftest import make_patient

ADMIN_PW = "admin password 1"
NURSE_PW = "nurse password 22"


def feed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """What a script would pipe into the command (stdin is not a terminal)."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


@pytest.fixture
def with_accounts(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    feed(monkeypatch, ADMIN_PW, ADMIN_PW)
    args = ["users", "add", "admin", "--full-name", "Ada Admin", "--role", "administrator"]
    assert main([*args, "--db", str(db_path)]) == 0
    feed(monkeypatch, ADMIN_PW, NURSE_PW, NURSE_PW)
    args = ["users", "add", "nurse.a", "--full-name", "Nina Nurse", "--role", "nurse"]
    assert main([*args, "--user", "admin", "--db", str(db_path)]) == 0
    return db_path


def test_first_account_must_be_an_administrator(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(monkeypatch, NURSE_PW, NURSE_PW)
    args = ["users", "add", "n", "--full-name", "N", "--role", "nurse", "--db", str(db_path)]
    assert main(args) == 2
    assert "the first one must be an administrator" in capsys.readouterr().err
    assert main(["users", "list", "--db", str(db_path)]) == 0
    assert "open mode" in capsys.readouterr().out


def test_add_and_list_accounts(
    with_accounts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["users", "list", "--db", str(with_accounts)]) == 0  # reads need no sign-in
    assert capsys.readouterr().out.splitlines() == [
        "admin\tadministrator\tactive\tAda Admin",
        "nurse.a\tnurse\tactive\tNina Nurse",
    ]
    feed(monkeypatch, NURSE_PW, "x" * 12, "x" * 12)
    args = ["users", "add", "b", "--full-name", "B", "--role", "nurse", "--user", "nurse.a"]
    assert main([*args, "--db", str(with_accounts)]) == 2
    err = capsys.readouterr().err
    assert "Only an administrator may manage user accounts" in err
    assert NURSE_PW not in err


def test_passwords_must_match_and_be_long_enough(
    with_accounts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["users", "add", "b", "--full-name", "B", "--role", "nurse", "--user", "admin"]
    feed(monkeypatch, ADMIN_PW, "long enough one", "long enough two")
    assert main([*args, "--db", str(with_accounts)]) == 2
    assert "the two passwords differ" in capsys.readouterr().err
    feed(monkeypatch, ADMIN_PW, "short", "short")
    assert main([*args, "--db", str(with_accounts)]) == 2
    assert "at least 12 characters" in capsys.readouterr().err


def test_changing_commands_need_user_and_password(
    with_accounts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backup = tmp_path / "copy.sqlite3"
    assert main(["backup", "--db", str(with_accounts), "-o", str(backup)]) == 0
    capsys.readouterr()
    assert main(["restore", str(backup), "--db", str(with_accounts)]) == 2
    assert "name yourself with --user NAME" in capsys.readouterr().err
    feed(monkeypatch, "wrong password!")
    assert main(["restore", str(backup), "--user", "admin", "--db", str(with_accounts)]) == 2
    assert "The username or password is wrong" in capsys.readouterr().err
    with open_database(with_accounts) as rec:
        failures = rec.sql.execute("SELECT username FROM sign_in_failures").fetchall()
        assert failures == [("admin",)]  # audited (the restore below replaces this file)
    feed(monkeypatch, NURSE_PW)
    assert main(["restore", str(backup), "--user", "nurse.a", "--db", str(with_accounts)]) == 1
    assert "Only an administrator may change settings" in capsys.readouterr().err
    feed(monkeypatch, ADMIN_PW)
    assert main(["restore", str(backup), "--user", "admin", "--db", str(with_accounts)]) == 0
    assert "Restored" in capsys.readouterr().out
    feed(monkeypatch, NURSE_PW)
    assert main(["demo", "--patients", "1", "--user", "nurse.a", "--db", str(with_accounts)]) == 2
    assert "you are signed in as nurse.a (nurse)" in capsys.readouterr().err
    with open_database(with_accounts) as rec:
        assert rec.repos.patients.all() == []


def test_deactivate(
    with_accounts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(monkeypatch, ADMIN_PW)
    args = ["users", "deactivate", "nurse.a", "--user", "admin", "--db", str(with_accounts)]
    assert main(args) == 0
    assert "Deactivated Nina Nurse" in capsys.readouterr().out
    with open_database(with_accounts, app_user="nurse.a") as rec:
        assert rec.role is None
        with pytest.raises(Exception, match="must sign in"):
            rec.repos.patients.add(make_patient())  # a name without its password is nobody
