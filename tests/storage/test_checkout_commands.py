"""``clinic-app checkout`` and ``checkin`` through the real command line (issue 19)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.storage.checkout import checked_out_patients, pending_reviews
from clinic_app.storage.database import open_database

from ..services.helpers import lab
from .test_checkout import ROAD
from .test_copy_record import ADMIN, PASSWORD, _fill


@pytest.fixture
def clinic_file(tmp_path: Path) -> str:
    path = tmp_path / "clinic.sqlite3"
    with open_database(path) as record:
        _fill(record)
    return str(path)


def _as(monkeypatch: pytest.MonkeyPatch, user: str) -> list[str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    return ["--user", user]


def test_checkout_and_checkin_from_the_command_line(
    clinic_file: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    laptop = str(tmp_path / "laptop-2.sqlite3")
    words = ["checkout", "--db", clinic_file, "--to", laptop, "--label", "Laptop 2", "DEMO-00001"]
    assert main([*words, *_as(monkeypatch, "ivan")]) == 0
    assert "Checked out 1 patient (DEMO-00001) to the laptop Laptop 2" in capsys.readouterr().out
    assert main([*words, *_as(monkeypatch, "ivan")]) == 2  # the file exists now
    assert "already a file" in capsys.readouterr().err
    with open_database(laptop) as road:
        road.set_user(road.repos.users.authenticate("ivan", PASSWORD).username)
        lab(road, 1, "anc", "1.2", "10^9/L", ROAD)
    back = ["checkin", "--db", clinic_file, laptop]
    assert main([*back, *_as(monkeypatch, "ivan")]) == 0
    assert "Checked in the laptop Laptop 2 (DEMO-00001): 1 new entry and" in capsys.readouterr().out
    assert main([*back, *_as(monkeypatch, "ivan")]) == 0
    assert "nothing changed" in capsys.readouterr().out
    with open_database(clinic_file) as clinic:
        assert checked_out_patients(clinic) == {}


def test_cancel_needs_an_administrator_and_a_reason(
    clinic_file: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    laptop = str(tmp_path / "lost.sqlite3")
    out = ["checkout", "--db", clinic_file, "--to", laptop, "DEMO-00001"]
    assert main([*out, *_as(monkeypatch, "ivan")]) == 0
    cancel = ["checkout", "--db", clinic_file, "--cancel", "DEMO-00001"]
    assert main([*cancel, *_as(monkeypatch, ADMIN)]) == 2
    assert "needs --reason" in capsys.readouterr().err
    assert main([*cancel, "--reason", "laptop lost", *_as(monkeypatch, "ivan")]) == 1
    assert "Only an administrator" in capsys.readouterr().err
    assert main([*cancel, "--reason", "laptop lost", *_as(monkeypatch, ADMIN)]) == 0
    assert "was cancelled" in capsys.readouterr().out
    with open_database(laptop) as road:
        road.set_user(road.repos.users.authenticate("ivan", PASSWORD).username)
        lab(road, 1, "anc", "1.2", "10^9/L", ROAD)
    assert main(["checkin", "--db", clinic_file, laptop, *_as(monkeypatch, "ivan")]) == 0
    assert "kept in the clinic's record for review" in capsys.readouterr().out
    with open_database(clinic_file) as clinic:
        assert [r.entries for r in pending_reviews(clinic)] == [1]
