"""``clinic-app card``, ``tox-summary`` and ``cards`` as a person runs them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from clinic_app.cli import main
from tests.reports.conftest import Seeded, pdf_pages


def run(seeded: Seeded, *args: str) -> int:
    return main([*args, "--db", str(seeded.path)])


def test_card_writes_a_pdf(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "card.pdf"
    assert run(seeded, "card", "MRN-0001", "--cycle", "1", "-o", str(out), "--by", "nurse.k") == 0
    text = " ".join(pdf_pages(out))
    assert "MRN MRN-0001" in text and "by nurse.k" in text
    assert "24 × 20 mg tablets" in text
    assert f"Wrote {out}" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_tox_summary_writes_a_pdf(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "tox.pdf"
    assert run(seeded, "tox-summary", "MRN-0002", "--cycle", "1", "-o", str(out)) == 0
    assert "Toxicity summary · BPD cycle 1" in pdf_pages(out)[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("card", "NOPE", "--cycle", "1"), "No patient has MRN 'NOPE'"),
        (("card", "MRN-0001", "--cycle", "9"), "has no cycle 9"),
        (("tox-summary", "MRN-0002", "--cycle", "4"), "has no cycle 4"),
    ],
)
def test_user_mistakes_one_line_status_2_no_file(
    seeded: Seeded,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert run(seeded, *args, "-o", str(folder / "x.pdf")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert list(folder.iterdir()) == []  # no PDF, no temporary file left behind


def test_unwritable_output(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no" / "such" / "card.pdf"
    assert run(seeded, "card", "MRN-0001", "--cycle", "1", "-o", str(missing)) == 2
    assert "does not exist" in capsys.readouterr().err
    if os.geteuid() == 0:
        return  # root writes into read-only folders; the folder check above still holds
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert run(seeded, "card", "MRN-0001", "--cycle", "1", "-o", str(locked / "c.pdf")) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "cannot write" in err[0]
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_cards_batch(seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "morning"
    # 2026-01-05: both patients' cycle 1 starts that day
    assert run(seeded, "cards", "--date", "2026-01-05", "-o", str(out)) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("[1/2] ") and lines[1].startswith("[2/2] ")
    assert lines[-1] == "2 of 2 cards printed."
    assert sorted(p.name for p in out.iterdir()) == [
        "MRN-0001-cycle1-card.pdf",
        "MRN-0002-cycle1-card.pdf",
    ]
    # 2026-02-05: BPD cycle 2 started 3 days late; it is printed by its actual start
    assert run(seeded, "cards", "--date", "2026-02-05", "-o", str(out)) == 0
    assert "MRN-0002" in capsys.readouterr().out
    assert (out / "MRN-0002-cycle2-card.pdf").exists()
    assert run(seeded, "cards", "--date", "2026-03-01", "-o", str(out)) == 0
    assert "No cycle starts on 2026-03-01" in capsys.readouterr().out


def test_tox_summary_all_doses_flag(seeded: Seeded, tmp_path: Path) -> None:
    short, full = tmp_path / "short.pdf", tmp_path / "full.pdf"
    assert run(seeded, "tox-summary", "MRN-0002", "--cycle", "1", "-o", str(short)) == 0
    assert (
        run(seeded, "tox-summary", "MRN-0002", "--cycle", "1", "--all-doses", "-o", str(full)) == 0
    )
    short_text = re.sub(r"\s+", " ", " ".join(pdf_pages(short)))
    full_text = re.sub(r"\s+", " ", " ".join(pdf_pages(full)))
    assert "doses, exceptions only" in short_text and "doses, full listing" not in short_text
    assert "doses, full listing" in full_text
    # bendamustine day 1 was given as planned: only the full listing has its row
    assert "Bendamustine 220 mg 220 mg given" not in short_text
    assert "Bendamustine 220 mg 220 mg given" in full_text
