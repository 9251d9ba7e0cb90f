"""Once the record has accounts, `clinic-app settings set` needs an administrator's sign-in."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.storage.database import open_database
from clinic_app.storage.users import Role

ADMIN_PW = "admin password 1"


def test_settings_set_needs_an_administrator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "record.sqlite3"
    with open_database(db) as record:
        record.repos.users.create_first_administrator("admin", "Ada Admin", ADMIN_PW)
        record.set_user("admin")
        record.repos.users.add("nurse.a", "Nina Adams", Role.NURSE, "nurse password 22")
    base = ["settings", "set", "clinic.phone", "+44 20 7946 0000", "--db", str(db)]
    assert main(base) == 2  # nobody named
    assert "--user" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("nurse password 22\n"))
    assert main([*base, "--user", "nurse.a"]) != 0  # a nurse may not change settings
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PW + "\n"))
    assert main([*base, "--user", "admin"]) == 0
    with open_database(db, read_only=True) as record:
        assert record.repos.settings.value("clinic.phone") == "+44 20 7946 0000"
