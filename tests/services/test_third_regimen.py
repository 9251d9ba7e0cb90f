"""A third regimen is a file: VRd from tests/fixtures/protocols, loaded as the clinic's own
folder (CLINIC_APP_PROTOCOL_DIR), taken through enrolment, cycle start, the chart, the dosing
card and the toxicity summary on a real record, with no change to any Python file.

Every expected number is worked by hand next to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.core import labs
from clinic_app.core.cycles import CycleStatus
from clinic_app.core.errors import ProtocolError
from clinic_app.core.protocol import Protocol, Route
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import DoseStatus, LabResult, Patient, Sex
from clinic_app.services import settings as st
from clinic_app.services.chart_data import load_chart
from clinic_app.services.context import load_protocol_files
from clinic_app.services.cycle_start import StartRequest, check_start, gather_start, start_cycle
from clinic_app.services.enrolment import EnrolmentRequest, enrol
from clinic_app.services.protocols import clinic_protocol_folder, load_all
from clinic_app.storage.database import Record, open_database
from tests.reports.conftest import pdf_pages

FOLDER = Path(__file__).parents[1] / "fixtures" / "protocols"
DAY1 = date(2026, 1, 5)  # a Monday


@pytest.fixture
def clinic_folder(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLINIC_APP_PROTOCOL_DIR", str(FOLDER))
    return FOLDER


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "record.sqlite3"


@pytest.fixture
def record(db_path: Path) -> Iterator[Record]:
    rec = open_database(db_path)
    try:
        yield rec
    finally:
        rec.close()


def add_lab(record: Record, pid: int, test: str, value: str, unit: str, on: date) -> None:
    v = Decimal(value)
    when = datetime(on.year, on.month, on.day, 8, tzinfo=UTC)
    record.repos.labs.add(pid, LabResult(test, v, unit, when, labs.to_si(test, v, unit)))


def vrd_patient(record: Record, protocols: dict[str, Protocol]) -> int:
    """Male, born 1966-01-01 (60 on day 1), 170 cm, 72 kg, creatinine 1.6 mg/dL."""
    pid = record.repos.patients.add(Patient("V-1", "Verdi", "Giuseppe", date(1966, 1, 1), Sex.MALE))
    enrol(
        record,
        protocols["vrd"],
        pid,
        EnrolmentRequest(
            protocol="vrd",
            enrolled_on=DAY1,
            cycle1_start=DAY1,
            gates={"consent": DAY1, "rems_lenalidomide": DAY1},
            height_cm=Decimal(170),
            weight_kg=Decimal(72),
            measured_on=DAY1,
            creatinine=Decimal("1.6"),
            creatinine_unit="mg/dL",
            creatinine_on=DAY1,
        ),
        DAY1,
    )
    add_lab(record, pid, "anc", "1.5", "10^9/L", DAY1)
    add_lab(record, pid, "platelets", "150", "10^9/L", DAY1)
    return pid


def test_the_clinic_folder_loads_beside_the_built_ins(clinic_folder: Path) -> None:
    assert clinic_protocol_folder() == clinic_folder
    protocols = load_protocol_files()
    assert sorted(protocols) == ["bpd", "dextr", "vrd"]
    vrd = protocols["vrd"]
    assert vrd.cycle_length_days == 21 and vrd.cycle_length("maintenance") == 28
    bortezomib = vrd.drugs["bortezomib"]
    assert bortezomib.routes == (Route.SC,) and bortezomib.given_in_clinic(Route.SC)
    assert Route.SC.spelled == "subcutaneous injection"
    # A protocol without [dlt], [escalation] or [endpoints] has none (no BPD defaults).
    assert vrd.dlt_criteria is None and vrd.escalation is None


def test_the_computer_setting_names_the_folder_when_the_environment_does_not(
    record: Record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLINIC_APP_PROTOCOL_DIR", raising=False)
    config = tmp_path / "settings.json"
    assert clinic_protocol_folder(record, config=config) is None
    assert sorted(load_all(record, config=config)) == ["bpd", "dextr"]
    st.set_machine_value(st.PROTOCOL_FOLDER, str(FOLDER), config)
    assert clinic_protocol_folder(record, config=config) == FOLDER
    assert sorted(load_all(record, config=config)) == ["bpd", "dextr", "vrd"]
    # Kept on the computer: the record cannot name it (an imported record cannot choose).
    assert not st.spec(st.PROTOCOL_FOLDER).clinical


def test_a_clash_or_a_broken_file_is_located_and_the_built_ins_still_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (FOLDER / "vrd.toml").read_text(encoding="utf-8")
    (tmp_path / "mine.toml").write_text(text.replace('key = "vrd"', 'key = "bpd"'), "utf-8")
    (tmp_path / "broken.toml").write_text(text.replace('routes = ["SC"]', 'routes = ["SQ"]'))
    monkeypatch.setenv("CLINIC_APP_PROTOCOL_DIR", str(tmp_path))
    loaded = load_all()
    assert sorted(loaded) == ["bpd", "dextr"]
    problems = {(Path(p.source).name, p.key) for p in loaded.problems}
    assert problems == {
        ("broken.toml", "drugs.bortezomib.routes"),
        ("mine.toml", "protocol.key"),
    }
    with pytest.raises(ProtocolError, match=r"broken\.toml: drugs\.bortezomib\.routes: unknown"):
        load_protocols(clinic_dirs=[tmp_path])


def test_enrol_start_chart_card_and_summary(
    clinic_folder: Path,
    record: Record,
    db_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    protocols = load_protocol_files(record)
    pid = vrd_patient(record, protocols)
    context = gather_start(record, pid, protocols)
    request = StartRequest(start=DAY1, height_cm=Decimal(170), weight_kg=Decimal(72))
    check = check_start(context, request, DAY1)
    assert check.ok, check.problems
    # BSA: sqrt(170 * 72 / 3600) = sqrt(3.4) = 1.8439 -> 1.84 m²
    assert check.bsa is not None and check.bsa.m2 == Decimal("1.84")
    # CrCl (Cockcroft-Gault): (140 - 60) * 72 / (72 * 1.6) = 50 mL/min: the 30-59 tier
    assert check.crcl is not None and check.crcl.ml_min == Decimal(50)
    plan = check.plan
    assert plan is not None and len(plan.days) == 21 and plan.end == date(2026, 1, 25)
    day1 = {d.drug: d for d in plan.days[0].doses}
    # Bortezomib 1.3 mg/m² × 1.84 m² = 2.392 mg, rounded to the file's 0.1 mg: 2.4 mg, SC
    bortezomib = day1["bortezomib"]
    assert bortezomib.dose_mg == Decimal("2.4") and bortezomib.route is Route.SC
    assert bortezomib.in_clinic and bortezomib.units == ()
    # Lenalidomide 25 mg, CrCl 50 < 60: 10 mg (the < 30 tier does not apply)
    assert day1["lenalidomide"].dose_mg == Decimal(10)
    assert day1["lenalidomide"].units == ((Decimal(10), 1),)
    assert day1["dexamethasone"].units == ((Decimal(20), 1),)
    assert plan.dosing_days("bortezomib") == (1, 4, 8, 11)
    assert plan.dosing_days("lenalidomide") == tuple(range(1, 15))
    # 4 bortezomib + 14 lenalidomide + 8 dexamethasone
    assert len(plan.doses()) == 26

    result = start_cycle(record, pid, request, DAY1, protocols)
    cycle = record.repos.cycles.get(result.cycle_id).value
    assert cycle.status is CycleStatus.STARTED and cycle.bsa_m2 == Decimal("1.84")
    live = record.repos.doses.for_cycle(result.cycle_id)
    assert len(live) == 26 and all(d.status is DoseStatus.PLANNED for d in live)

    chart = load_chart(record, pid, protocols=protocols)
    assert chart.cycle_length_days == 21

    st.set_value(record, st.CLINIC_PHONE, "+44 20 7946 0000", reason="cards")
    card, tox = tmp_path / "card.pdf", tmp_path / "tox.pdf"
    db = ["--db", str(db_path)]
    assert main(["card", "V-1", "--cycle", "1", "-o", str(card), *db]) == 0
    text = " ".join(pdf_pages(card))
    assert "VRd" in text and "Bortezomib" in text and "2.4 mg" in text
    assert "GIVEN IN CLINIC" in text and "subcutaneous injection" in text
    # CrCl 50 < 60: lenalidomide 10 mg days 1-14, 14 capsules of 10 mg to dispense
    assert "CrCl 50 mL/min < 60 mL/min: 10 mg" in text and "14 × 10 mg capsules" in text
    assert "last day Sun 25 Jan 2026 (day 21)" in text  # 5 Jan + 20 days
    assert "25 Jan · day 21" in text and "day 22" not in text
    assert main(["tox-summary", "V-1", "--cycle", "1", "-o", str(tox), *db]) == 0
    assert "Toxicity summary · VRd cycle 1" in pdf_pages(tox)[0]
    capsys.readouterr()


def test_check_command_names_file_key_and_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = FOLDER / "vrd.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text(encoding="utf-8").replace('routes = ["SC"]', 'routes = ["SQ"]'))
    assert main(["protocols", "--check", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"{good}: fine"
    assert main(["protocols", "--check", str(good), str(bad)]) == 2
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1] == (
        f"{bad}: drugs.bortezomib.routes: unknown route 'SQ'; use one of PO, IV, SC, IM"
    )


def test_the_list_names_a_refused_clinic_file_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (FOLDER / "vrd.toml").read_text(encoding="utf-8")
    (tmp_path / "vrd.toml").write_text(text.replace('basis = "per_m2"', 'basis = "per_kg"'))
    monkeypatch.setenv("CLINIC_APP_PROTOCOL_DIR", str(tmp_path))
    assert main(["protocols"]) == 2
    out, err = capsys.readouterr()
    assert "bpd " in out and "dextr " in out and "vrd " not in out  # the built-ins still load
    assert "clinic protocol file refused: vrd.toml: drugs.bortezomib.basis: unknown value" in err
