"""Open mode (issue 15, item 10): a record with no accounts is open to anyone, and the
``security.accounts_required`` setting makes it refuse clinical data until the first
administrator exists (enforced in storage, so every path is covered)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.storage.database import open_database
from clinic_app.storage.permissions import PermissionDeniedError

from .conftest import make_patient

ADMIN_PW = "admin password 1"


def test_open_mode_accepts_anyone_by_default(db_path: Path) -> None:
    with open_database(db_path) as rec:
        assert rec.repos.patients.add(make_patient())


def test_the_setting_refuses_clinical_data_until_the_first_account(db_path: Path) -> None:
    with open_database(db_path) as rec:
        rec.repos.settings.set("security.accounts_required", "yes", reason="clinic policy")
        with pytest.raises(PermissionDeniedError, match="create the administrator account"):
            rec.repos.patients.add(make_patient())
        assert rec.repos.patients.all() == []
        rec.repos.users.create_first_administrator("admin", "Ada Admin", ADMIN_PW)


def test_the_setting_is_set_from_the_command_line(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_database(db_path).close()
    args = ["settings", "set", "security.accounts_required", "yes", "--db", str(db_path)]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(args) == 0
    assert main(["demo", "--db", str(db_path)]) != 0
    assert "create the administrator account" in capsys.readouterr().err
