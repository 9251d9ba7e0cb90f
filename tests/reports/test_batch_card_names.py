"""Batch cards for different patients never share a file name (issue 15, item 8): before,
``MRN/0002`` and ``MRN 0002`` both became ``MRN_0002-cycle1-card.pdf`` and one card was lost
("2 of 2 printed", one file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.commands.print_commands import card_file_name, unique_card_name
from clinic_app.storage.database import open_database
from tests.reports.conftest import Seeded


def test_mrns_that_clean_up_alike_get_two_files(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        open_database(seeded.path) as record,
        record.transaction(reason="MRNs that read alike once cleaned") as db,
    ):
        db.conn.execute(
            "UPDATE patients SET mrn = 'MRN/0002', version = version + 1 WHERE mrn = 'MRN-0001'"
        )
        db.conn.execute(
            "UPDATE patients SET mrn = 'MRN 0002', version = version + 1 WHERE mrn = 'MRN-0002'"
        )
    out = tmp_path / "morning"
    # 2026-01-05: both patients' cycle 1 starts that day
    assert main(["cards", "--date", "2026-01-05", "-o", str(out), "--db", str(seeded.path)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "2 of 2 cards printed."
    assert len(list(out.glob("*.pdf"))) == 2


def test_a_case_insensitive_disk_cannot_merge_two_cards_of_a_batch() -> None:
    used: set[str] = set()
    first = unique_card_name("a-1", 1, used)
    second = unique_card_name("A-1", 1, used)
    assert first.casefold() != second.casefold()
    assert card_file_name("MRN-0001", 1) == "MRN-0001-cycle1-card.pdf"  # plain MRNs unchanged
