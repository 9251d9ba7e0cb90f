"""DexTR maintenance on a real record: the renal rule reads the exact CrCl, from the start
screen to the stored cycle and the printed dosing card; the creatinine shows as entered
(issue 13; rules §1, §2, §8)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic_app.core.protocol import Protocol
from clinic_app.reports.dosing_card import render_dosing_card
from clinic_app.services import documents
from clinic_app.services.cycle_start import check_start, gather_start, start_cycle
from clinic_app.storage.database import Record
from tests.reports.conftest import pdf_pages
from tests.services.test_cycle_start import (
    add_lab,
    dextr_after_four_cycles,
    good_counts,
    protocols,  # noqa: F401  (the module-scoped fixture)
    req,
)

C5 = date(2025, 6, 30)  # cycle 4 started 2025-06-02, + 28 days


def test_crcl_of_39_96_caps_maintenance_lenalidomide_on_screen_record_and_card(
    record: Record,
    protocols: dict[str, Protocol],  # noqa: F811
) -> None:
    pid = dextr_after_four_cycles(record, protocols)
    good_counts(record, pid, C5)
    add_lab(record, pid, "creatinine", "2.0", "mg/dL", C5)
    # Age 60 on 2025-06-30 (born 1965-03-10), weight 71.92 kg, creatinine 2.0 mg/dL:
    # (140 - 60) * 71.92 / (72 * 2.0) = 5753.6 / 144 = 39.9555... mL/min. Rounded half up that
    # is "40.0", which is not < 40; the exact value is below 40, so DexTR maintenance
    # lenalidomide = min(15, 25) = 15 mg.
    request = req(C5, weight_kg=Decimal("71.92"))
    check = check_start(gather_start(record, pid, protocols), request, C5)
    assert check.ok, check.problems
    assert check.crcl is not None and check.crcl.ml_min < 40
    assert check.crcl.describe().startswith("CrCl 39.9 mL/min (Cockcroft-Gault: age 60, ")
    assert "creatinine 2 mg/dL, male" in check.crcl.describe()  # as entered, ISMP: no ".0"
    assert check.plan is not None
    day1 = {d.drug: d for d in check.plan.days[0].doses}
    assert day1["lenalidomide"].dose_mg == Decimal(15)

    result = start_cycle(record, pid, request, C5, protocols)
    cycle = record.repos.cycles.get(result.cycle_id).value
    # stored exact, so a reprint plans the same 15 mg
    assert cycle.crcl_ml_min == Decimal("5753.6") / Decimal(144)
    record.repos.settings.set("clinic.phone", "+1 555 0100", reason="setup")  # every card has it
    card = documents.build_dosing_card(record, "D-1", 5)
    lenalidomide = {d.drug: d for d in card.plan.days[0].doses}["lenalidomide"]
    assert lenalidomide.dose_mg == Decimal(15)
    text = " ".join(" ".join(pdf_pages(render_dosing_card(card))).split())
    assert "39.9 mL/min (Cockcroft-Gault" in text
    assert "39.955" not in text


def test_crcl_line_shows_a_creatinine_entered_in_umol_per_l(
    record: Record,
    protocols: dict[str, Protocol],  # noqa: F811
) -> None:
    pid = dextr_after_four_cycles(record, protocols)
    good_counts(record, pid, C5)
    add_lab(record, pid, "creatinine", "177", "umol/L", C5)
    check = check_start(gather_start(record, pid, protocols), req(C5), C5)
    assert check.crcl is not None
    # 177 / 88.4 = 2.002262... mg/dL; (140 - 60) * 71 / (72 * 2.002262) = 39.39987...
    # -> 39.3 (cut, not rounded)
    line = check.crcl.describe()
    assert line == (
        "CrCl 39.3 mL/min (Cockcroft-Gault: age 60, weight 71 kg, creatinine 177 µmol/L, "
        "male on 2025-06-30)"
    )
