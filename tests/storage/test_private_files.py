"""Exports are private too (issue 15, item 6): created 0600 (files) and 0700 (folder) whatever
the umask; the record, WAL/SHM and backups are covered in test_backup.py."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.storage.database import open_database

from .conftest import make_patient


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
@pytest.mark.parametrize("form", ["json", "csv"])
def test_exports_are_readable_by_their_owner_only(db_path: Path, tmp_path: Path, form: str) -> None:
    with open_database(db_path) as rec:
        rec.repos.patients.add(make_patient())
    target = tmp_path / f"export-{form}"
    assert main(["export", "--format", form, "-o", str(target), "--db", str(db_path)]) == 0
    files = [target] if form == "json" else list(target.iterdir())
    assert files and {mode(f) for f in files} == {0o600}
    if form == "csv":
        assert mode(target) == 0o700
