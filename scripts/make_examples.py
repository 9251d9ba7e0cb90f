"""Regenerate the printed-document examples in docs/examples/ from the demonstration record.

    .venv/bin/python scripts/make_examples.py

Builds a fresh demo record in a temporary folder, prints a DexTR and a BPD toxicity summary
and a DexTR dosing card (A4, and the card's calendar on Letter), and renders every page with
``pdftoppm -png -r 60`` (poppler-utils). Look at each PNG before committing it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from clinic_app.reports.dosing_card import render_dosing_card
from clinic_app.reports.models import PaperSize
from clinic_app.reports.toxicity_summary import render_toxicity_summary
from clinic_app.services import documents
from clinic_app.services.demo import generate_demo
from clinic_app.storage.database import open_database

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "examples"
TODAY = date(2026, 12, 2)
PRINTED_AT = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
DEXTR, BPD = "DEMO-00006", "DEMO-00027"  # a dose modification; febrile neutropenia in cycle 1


def pages(pdf: bytes, stem: str, folder: Path) -> None:
    source = folder / f"{stem}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(source), str(OUT / stem)], check=True)


def main() -> int:
    for old in OUT.glob("*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        with open_database(folder / "demo.sqlite3", app_user="nurse.k") as r:
            generate_demo(r, today=TODAY)  # a fixed day: the same record every run
            r.repos.settings.set("clinic.name", "Oncology Day Unit", reason="examples")
            r.repos.settings.set("clinic.phone", "+1 555 0100", reason="examples")
            for mrn, stem in ((DEXTR, "toxicity-summary-dextr"), (BPD, "toxicity-summary-bpd")):
                s = documents.build_toxicity_summary(
                    r, mrn, 1, printed_by="nurse.k", printed_at=PRINTED_AT
                )
                pages(render_toxicity_summary(s), stem, folder)
            card = documents.build_dosing_card(
                r, DEXTR, 1, printed_by="nurse.k", printed_at=PRINTED_AT
            )
            pages(render_dosing_card(card), "dosing-card-a4", folder)
            pages(render_dosing_card(card, paper=PaperSize.LETTER), "dosing-card-letter", folder)
    for made in sorted(OUT.glob("*.png")):
        print(made.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
