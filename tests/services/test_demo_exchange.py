"""Demo data obeys the protocols; export/import round-trips exactly and is all-or-nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic_app.core.escalation import DltStatus, EscalationPatient, decide
from clinic_app.services.demo import DemoRefused, generate_demo
from clinic_app.services.exchange import (
    ImportRefused,
    export_csv,
    export_document,
    export_json,
    import_file,
)
from clinic_app.services.patient_state import list_patient_rows
from clinic_app.storage import queries
from clinic_app.storage.database import open_database
from tests.core.designs import bpd_design

from .helpers import patient

BPD_DESIGN = bpd_design()  # the demo's BPD trial escalates by bpd.toml's [escalation]

TODAY = date(2026, 5, 4)


def test_demo_is_deterministic_and_bpd_escalation_follows_3_plus_3(tmp_path: Path) -> None:
    docs = []
    for name in ("a", "b"):
        with open_database(tmp_path / f"{name}.db") as rec:
            result = generate_demo(rec, patients=40, seed=3, today=TODAY)
            assert result.patients == 40
            doc = export_document(rec)
            docs.append({k: v for k, v in doc["tables"].items()})
            rows = list_patient_rows(rec, TODAY)
    strip = lambda t: [{k: v for k, v in r.items() if k != "created_at"} for r in t]  # noqa: E731
    assert all(strip(docs[0][t]) == strip(docs[1][t]) for t in docs[0])
    assert all(r.mrn.startswith("DEMO-") for r in rows)
    assert {r.protocol_key for r in rows} == {"dextr", "bpd"}
    names = "".join(r.full_name for r in rows)
    assert (
        any("\u0370" <= ch <= "\u03ff" for ch in names)
        or any("\u0400" <= ch <= "\u04ff" for ch in names)
        or any("\u4e00" <= ch <= "\u9fff" for ch in names)
    )
    # Re-run the 3+3 engine over the escalation patients in enrolment order: every patient was
    # enrolled at a level the engine allowed at that point.
    enrolments = sorted(
        (e for e in docs[0]["enrolments"] if e["cohort"] == "escalation"),
        key=lambda e: (e["enrolled_on"], e["id"]),
    )
    reviews = {r["enrolment_id"]: r["confirmed"] for r in docs[0]["dlt_reviews"]}
    assert enrolments, "the demo has a BPD escalation history"
    placed: list[EscalationPatient] = []
    for e in enrolments:
        assert e["dose_level"] in decide(placed, BPD_DESIGN).allowed_levels or len(placed) % 3
        status = DltStatus.YES if reviews.get(e["id"]) else DltStatus.NO
        placed.append(EscalationPatient(str(e["id"]), e["dose_level"], True, status))


def test_demo_refuses_a_record_with_real_patients(tmp_path: Path) -> None:
    with open_database(tmp_path / "r.db") as rec:
        patient(rec, "REAL-1", "Real")
        with pytest.raises(DemoRefused, match="1 real"):
            generate_demo(rec, patients=2, today=TODAY)
        assert queries.count_patients(rec, "DEMO-") == (1, 0)


def test_json_and_csv_round_trip_of_demo_data(tmp_path: Path) -> None:
    with open_database(tmp_path / "src.db") as rec:
        generate_demo(rec, patients=12, seed=5, today=TODAY)
        export_json(rec, tmp_path / "out.json")
        export_csv(rec, tmp_path / "csv")
        original = export_document(rec)["tables"]
    for source, name in ((tmp_path / "out.json", "j.db"), (tmp_path / "csv", "c.db")):
        with open_database(tmp_path / name) as rec:
            import_file(rec, source)
            assert export_document(rec)["tables"] == original


def test_a_partly_invalid_file_changes_nothing_and_lists_every_problem(tmp_path: Path) -> None:
    with open_database(tmp_path / "src.db") as rec:
        generate_demo(rec, patients=4, seed=2, today=TODAY)
        doc = export_document(rec)
    doc["tables"]["patients"][3]["date_of_birth"] = "1960-02-30"
    doc["tables"]["labs"][0]["value"] = "lots"
    doc["tables"]["cycles"][0]["enrolment_id"] = 999999  # a foreign key to nothing
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with open_database(tmp_path / "dst.db") as rec:
        with pytest.raises(ImportRefused) as info:
            import_file(rec, bad)
        assert "patients[3].date_of_birth: '1960-02-30' is not a date" in info.value.problems
        assert "labs[0].value: 'lots' is not a number" in info.value.problems
        assert queries.count_patients(rec) == (0, 0)
        # Fix the two value problems: the database still refuses the dangling cycle, all or nothing.
        doc["tables"]["patients"][3]["date_of_birth"] = "1960-02-29"
        doc["tables"]["labs"][0]["value"] = "1.5"
        bad.write_text(json.dumps(doc), encoding="utf-8")
        with pytest.raises(ImportRefused) as info:
            import_file(rec, bad)
        assert any(p.startswith("cycles[0]: refused by the database") for p in info.value.problems)
        assert queries.count_patients(rec) == (0, 0)


def test_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"format": ', encoding="utf-8")
    with (
        open_database(tmp_path / "dst.db") as rec,
        pytest.raises(ImportRefused, match="1 problem"),
    ):
        import_file(rec, bad)


# Names as storage accepts them: printable (no control characters, issue 15 item 3).
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=st.lists(
        st.tuples(_text, _text, st.dates(date(1920, 1, 1), date(2010, 12, 31)), st.booleans()),
        min_size=1,
        max_size=5,
    ),
    weights=st.lists(st.decimals("25", "250", places=2), max_size=4),  # input_limits.toml
)
def test_round_trip_of_generated_records(
    tmp_path_factory: pytest.TempPathFactory,
    people: list[tuple[str, str, date, bool]],
    weights: list[object],
) -> None:
    from decimal import Decimal

    from clinic_app.core.records import BodyMeasurement, Patient, Sex

    folder = tmp_path_factory.mktemp("rt")
    with open_database(folder / "src.db") as rec:
        for i, (family, given_name, born, female) in enumerate(people):
            sex = Sex.FEMALE if female else Sex.MALE
            pid = rec.repos.patients.add(Patient(f"M{i}", family, given_name, born, sex, ("x",)))
            for w in weights:
                assert isinstance(w, Decimal)
                rec.repos.measurements.add(pid, BodyMeasurement(born, w, None))
        export_json(rec, folder / "out.json")
        original = export_document(rec)["tables"]
    with open_database(folder / "dst.db") as rec:
        import_file(rec, folder / "out.json")
        assert export_document(rec)["tables"] == original
