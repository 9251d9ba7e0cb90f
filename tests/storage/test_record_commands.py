"""The backup, restore and check subcommands, run through clinic_app.cli.main."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.commands import record_commands
from clinic_app.commands.base import common_options
from clinic_app.storage.database import open_database

from .conftest import make_patient

DOCS = Path(__file__).parents[2] / "docs" / "cli-record.md"


@pytest.fixture
def filled(db_path: Path) -> Path:
    with open_database(db_path) as rec:
        rec.repos.patients.add(make_patient("A-1"))
    return db_path


def test_backup_to_a_given_path(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "copy.sqlite3"
    assert main(["backup", "--db", str(filled), "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"Backed up {filled} to {out}\n"
    with open_database(out) as rec:
        assert [p.mrn for p in rec.repos.patients.all()] == ["A-1"]


def test_backup_default_goes_to_backups_folder(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "--db", str(filled)]) == 0
    (made,) = (filled.parent / "backups").glob("*.sqlite3")
    assert re.fullmatch(r"record-\d{8}T\d{6}Z\.sqlite3", made.name)
    assert str(made) in capsys.readouterr().out


def test_missing_record_is_a_user_mistake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite3"
    assert main(["check", "--db", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"clinic-app: there is no record at {missing} yet (give another one with --db PATH)\n"
    )
    assert not missing.exists()


def test_restore_round_trip_and_keeps_replaced(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.sqlite3"
    main(["backup", "--db", str(filled), "-o", str(copy)])
    with open_database(filled) as rec:
        rec.repos.patients.add(make_patient("A-2"))
    capsys.readouterr()
    assert main(["restore", str(copy), "--db", str(filled)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Restored {filled} from {copy}; the replaced file is kept at ")
    with open_database(filled) as rec:
        assert [p.mrn for p in rec.repos.patients.all()] == ["A-1"]


def test_restore_of_missing_or_bad_file(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore", str(tmp_path / "nope"), "--db", str(filled)]) == 2
    assert "there is no backup file at" in capsys.readouterr().err
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not sqlite" * 100)
    assert main(["restore", str(junk), "--db", str(filled)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("clinic-app: The backup was not restored") and "nothing was changed" in err
    )


def test_check_ok_and_problems(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--db", str(filled)]) == 0
    assert capsys.readouterr().out == f"ok: {filled}\n"
    with open_database(filled) as rec:
        rec.db.conn.execute("DROP TRIGGER patients_audit_update")
        rec.db.conn.execute("DROP TRIGGER labs_audit_insert")
        rec.db.conn.commit()
    assert main(["check", "--db", str(filled)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("audit: trigger ") for line in lines)


def test_check_on_a_file_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"x" * 5000)
    assert main(["check", "--db", str(bad)]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert "is not a clinic-app database" in line


def test_every_command_and_option_is_documented() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    record_commands.register(sub, common_options())
    text = DOCS.read_text(encoding="utf-8")
    for name, command in sub.choices.items():
        assert f"clinic-app {name}" in text, name
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert f"`{flag}" in text or f"{flag}`" in text or f" {flag} " in text, (name, flag)
