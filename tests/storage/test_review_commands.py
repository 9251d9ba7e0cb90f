"""``clinic-app reviews`` and ``review`` through the real command line (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.commands.review_commands import _shown
from clinic_app.storage.checkout import pending_reviews
from clinic_app.storage.checkout.review import CONFLICT, Change
from clinic_app.storage.database import open_database

from ..services.helpers import lab
from .test_checkout import ROAD
from .test_checkout_commands import _as, clinic_file
from .test_copy_record import ADMIN, PASSWORD

__all__ = ["clinic_file"]  # a fixture used by name


def test_list_show_and_apply_a_review_set(
    clinic_file: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    laptop = str(tmp_path / "lost.sqlite3")
    assert (
        main(
            [
                "checkout",
                "--db",
                clinic_file,
                "--to",
                laptop,
                "DEMO-00001",
                *_as(monkeypatch, "ivan"),
            ]
        )
        == 0
    )
    cancel = ["checkout", "--db", clinic_file, "--cancel", "DEMO-00001", "--reason", "lost"]
    assert main([*cancel, *_as(monkeypatch, ADMIN)]) == 0
    assert main(["reviews", "--db", clinic_file, *_as(monkeypatch, "ivan")]) == 0
    assert "No laptop changes are waiting for review." in capsys.readouterr().out
    with open_database(laptop) as road:
        road.set_user(road.repos.users.authenticate("ivan", PASSWORD).username)
        lab(road, 1, "anc", "1.2", "10^9/L", ROAD)
    assert main(["checkin", "--db", clinic_file, laptop, *_as(monkeypatch, "ivan")]) == 0
    capsys.readouterr()
    assert main(["reviews", "--db", clinic_file, *_as(monkeypatch, "ivan")]) == 0
    listed = capsys.readouterr().out
    assert "set 1: the laptop lost, 1 changes" in listed
    assert main(["review", "--db", clinic_file, "1", *_as(monkeypatch, "ivan")]) == 0
    shown = capsys.readouterr().out
    assert "[will apply] DEMO-00001: new lab result" in shown and "value: laptop 1.2," in shown
    assert "test: laptop ANC" in shown and "unit: laptop ×10⁹/L" in shown  # as a chart says it
    assert "patient id" not in shown and "value si" not in shown
    with open_database(clinic_file) as clinic:
        labs = clinic.sql.execute("SELECT count(*) FROM labs").fetchone()[0]
    apply = ["review", "--db", clinic_file, "1", "--apply"]
    assert main([*apply, *_as(monkeypatch, ADMIN)]) == 2
    assert "need --reason" in capsys.readouterr().err
    assert main([*apply, "--reason", "found", *_as(monkeypatch, "ivan")]) == 1
    assert "Only an administrator" in capsys.readouterr().err
    assert main([*apply, "--reason", "found", *_as(monkeypatch, ADMIN)]) == 0
    assert "1 new entry and" in capsys.readouterr().out
    with open_database(clinic_file) as clinic:
        assert pending_reviews(clinic) == []
        assert clinic.sql.execute("SELECT count(*) FROM labs").fetchone()[0] == labs + 1
    dismiss = ["review", "--db", clinic_file, "1", "--dismiss", "--reason", "x"]
    assert main([*dismiss, *_as(monkeypatch, ADMIN)]) == 0
    assert "already settled" in capsys.readouterr().out


def test_a_conflict_is_shown_with_why() -> None:
    why = "the clinic voided the cycle this dose belongs to since check-out"
    change = Change(
        "dose_events", 7, "new", "DEMO-00001", {"id": 7}, None, CONFLICT, "", "ivan", "", why
    )
    assert _shown([change])[0].startswith(f"[conflict: {why}] DEMO-00001: new dose, by ivan")
