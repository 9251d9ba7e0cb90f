"""Real records in a real SQLite file, built through the storage repositories."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.decisions import DltReview
from clinic_app.core.dosing import body_surface_area
from clinic_app.core.records import (
    AdverseEvent,
    Attribution,
    BodyMeasurement,
    DoseEvent,
    DoseStatus,
    Enrolment,
    Immunofixation,
    LabResult,
    Patient,
    ResponseAssessment,
    Sex,
)
from clinic_app.storage.database import Record, open_database

START = date(2026, 1, 5)  # a Monday
PRINTED_AT = datetime(2026, 2, 10, 8, 30, tzinfo=UTC)
MULTI_SCRIPT_GIVEN = "Zoë Αλέξανδρος Дмитрий"
MULTI_SCRIPT_FAMILY = "Ñúñez-Łukasiewicz 山田 太郎 김민준"


@dataclass(frozen=True)
class Seeded:
    path: Path
    dextr_mrn: str = "MRN-0001"
    bpd_mrn: str = "MRN-0002"


def pdf_pages(data: bytes | Path) -> list[str]:
    from io import BytesIO

    reader = PdfReader(BytesIO(data) if isinstance(data, bytes) else data)
    return [page.extract_text() for page in reader.pages]


def _lab(test: str, value: str, unit: str, on: date, lln: str | None = None) -> LabResult:
    return LabResult(
        test=test,
        value=Decimal(value),
        unit=unit,
        collected_at=datetime(on.year, on.month, on.day, 9, 0, tzinfo=UTC),
        value_si=Decimal(value),
        lln=Decimal(lln) if lln else None,
    )


def seed(record: Record) -> None:
    r = record.repos
    r.settings.set("clinic.phone", "+1 555 0100", reason="setup")
    r.settings.set("clinic.name", "Oncology Day Unit", reason="setup")

    # DexTR patient with a multi-script name, cycle 1 started on START.
    dextr_id = r.patients.add(
        Patient("MRN-0001", MULTI_SCRIPT_FAMILY, MULTI_SCRIPT_GIVEN, date(1950, 3, 12), Sex.FEMALE)
    )
    m1 = r.measurements.add(dextr_id, BodyMeasurement(START, Decimal(60), Decimal(165)))
    crcl_lab = r.labs.add(dextr_id, _lab("creatinine", "80", "umol/L", START - timedelta(days=2)))
    e1 = r.enrolments.add(Enrolment(dextr_id, "dextr", START, START))
    bsa1 = body_surface_area(Decimal(165), Decimal(60))
    r.cycles.add(
        CycleRow(
            e1,
            1,
            "induction",
            START,
            CycleStatus.STARTED,
            start_date=START,
            bsa_m2=bsa1.m2,
            bsa_formula="mosteller",
            measurement_id=m1,
            crcl_ml_min=Decimal("62"),
            crcl_lab_id=crcl_lab,
        )
    )

    # BPD patient, dose level 1, 170 cm / 70 kg: BSA 1.82 m².
    bpd_id = r.patients.add(
        Patient("MRN-0002", "O'Brien & Søn <x>", "Dara", date(1961, 7, 1), Sex.MALE)
    )
    m2 = r.measurements.add(bpd_id, BodyMeasurement(START, Decimal(70), Decimal(170)))
    e2 = r.enrolments.add(Enrolment(bpd_id, "bpd", START, START, dose_level=1))
    bsa2 = body_surface_area(Decimal(170), Decimal(70))
    c1 = r.cycles.add(
        CycleRow(
            e2,
            1,
            "treatment",
            START,
            CycleStatus.COMPLETED,
            start_date=START,
            dose_level=1,
            bsa_m2=bsa2.m2,
            bsa_formula="mosteller",
            measurement_id=m2,
        )
    )
    # cycle 2 started 3 days late: the summary of cycle 1 runs to the day before.
    r.cycles.add(
        CycleRow(
            e2,
            2,
            "treatment",
            START + timedelta(days=28),
            CycleStatus.STARTED,
            start_date=START + timedelta(days=31),
            delay_days=3,
            delay_reason="platelets low",
            dose_level=1,
            bsa_m2=bsa2.m2,
            bsa_formula="mosteller",
            measurement_id=m2,
        )
    )
    given = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    r.doses.add(DoseEvent(c1, 1, "bendamustine", Decimal(220), DoseStatus.GIVEN, given))
    r.doses.add(DoseEvent(c1, 1, "pomalidomide", Decimal(3), DoseStatus.GIVEN, given))
    r.doses.add(DoseEvent(c1, 15, "pomalidomide", Decimal(3), DoseStatus.HELD, reason="ANC 0.4"))
    # Baseline, then weekly counts: nadir ANC 0.4 on day 15 (G4: < 0.5), platelets 45 (G3).
    for day, anc, plt in (
        (0, "2.1", "180"),
        (8, "1.2", "90"),
        (15, "0.4", "45"),
        (22, "0.9", "60"),
    ):
        on = START + timedelta(days=day - 1) if day else START - timedelta(days=3)
        r.labs.add(bpd_id, _lab("anc", anc, "10^9/L", on, lln="1.8"))
        r.labs.add(bpd_id, _lab("platelets", plt, "10^9/L", on, lln="150"))
    r.adverse_events.add(
        bpd_id,
        AdverseEvent(
            term="Nausea",
            grade=2,
            onset=START + timedelta(days=2),
            resolved=START + timedelta(days=6),
            attribution={"bendamustine": Attribution.PROBABLE},
        ),
    )
    r.responses.add(
        bpd_id,
        ResponseAssessment(START - timedelta(days=5), serum_m_protein_g_dl=Decimal("3.0")),
    )
    r.responses.add(
        bpd_id,
        ResponseAssessment(
            START + timedelta(days=27),
            serum_m_protein_g_dl=Decimal("1.2"),
            urine_m_protein_mg_24h=None,
            serum_ife=Immunofixation.POSITIVE,
            end_of_cycle=1,
        ),
    )
    r.dlt_reviews.add(
        DltReview(
            e2,
            proposed=None,  # the rules cannot decide: no thrombocytopenia AE says if it bled
            confirmed=False,
            evaluable=True,
            reviewer="Dr Okafor",
            reviewed_on=date(2026, 2, 4),
            reason="no DLT criterion met",
            cycle_id=c1,
        )
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    path = tmp_path / "record.sqlite3"
    with open_database(path, app_user="nurse.k") as record:
        seed(record)
    yield Seeded(path)


@pytest.fixture
def record(seeded: Seeded) -> Iterator[Record]:
    with open_database(seeded.path) as rec:
        yield rec
