"""Check-out to a laptop and check-in back (issue 19), on a SQLite and a PostgreSQL clinic.

The clinic is filled with every kind of row the app writes (test_copy_record's ``_fill``:
accounts, signatures, settings, every clinical table, voided rows). The laptop is always a
SQLite file; the clinic is the ``record`` fixture, so each test runs on both engines.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.services.chart_data import load_chart
from clinic_app.services.patient_state import list_patient_rows
from clinic_app.services.settings import CLINIC_PHONE
from clinic_app.storage import schema
from clinic_app.storage.backup import check
from clinic_app.storage.checkout import (
    CheckedOutError,
    CheckoutRefused,
    cancel_checkout,
    check_in,
    check_out,
    checked_out_patients,
    pending_reviews,
)
from clinic_app.storage.checkout.links import LINKS
from clinic_app.storage.copy import copy_record
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.permissions import PermissionDeniedError

from ..services.helpers import adverse_event, cycle, enrol, lab, patient, planned_dose, weight
from .test_copy_record import ADMIN, PASSWORD, _fill

LABEL = "Laptop 2"
ROAD = date(2026, 11, 25)


@pytest.fixture
def clinic(record: Record) -> Record:
    _fill(record)
    return record


def _mrns(record: Record, count: int = 2) -> list[str]:
    rows = record.sql.execute(
        "SELECT mrn FROM patients WHERE voided_at IS NULL ORDER BY id LIMIT ?", [count]
    )
    return [str(r[0]) for r in rows.fetchall()]


def _pid(record: Record, mrn: str) -> int:
    return int(record.sql.execute("SELECT id FROM patients WHERE mrn = ?", [mrn]).fetchone()[0])


def _entries(record: Record) -> int:
    return int(record.sql.execute("SELECT count(*) FROM audit_log").fetchone()[0])


@pytest.fixture
def laptop_path(tmp_path: Path) -> Path:
    return tmp_path / "usb" / "laptop-2.sqlite3"


def _out(clinic: Record, laptop_path: Path, count: int = 2) -> list[str]:
    laptop_path.parent.mkdir(exist_ok=True)
    mrns = _mrns(clinic, count)
    check_out(clinic, laptop_path, mrns, LABEL)
    return mrns


@pytest.fixture
def on_the_road(laptop_path: Path) -> Callable[[], Record]:
    """Opens the laptop record signed in as the investigator (sign-in works offline)."""

    def opened() -> Record:
        laptop = open_database(laptop_path)
        laptop.set_user(laptop.repos.users.authenticate("ivan", PASSWORD).username)
        return laptop

    return opened


def _road_changes(laptop: Record, mrns: list[str]) -> dict[str, int]:
    """A new row of several kinds, a correction and a void, and a new patient with a chart."""
    first = _pid(laptop, mrns[0])
    made = {
        "lab": lab(laptop, first, "anc", "1.4", "10^9/L", ROAD),
        "ae": adverse_event(laptop, first, "Nausea", 1, ROAD),
    }
    new = patient(laptop, "ROAD-1", "Road", "Rita")
    made["new_patient"] = new
    made["weight"] = weight(laptop, new, ROAD, "61.5")
    eid = enrol(laptop, new, "dextr", ROAD)
    made["cycle"] = cycle(laptop, eid, 1, "induction", ROAD, ROAD, measurement_id=made["weight"])
    made["dose"] = planned_dose(laptop, made["cycle"], 1, "dexamethasone", "40", "PO")
    old_lab = int(
        laptop.sql.execute(
            "SELECT min(id) FROM labs WHERE patient_id = ? AND voided_at IS NULL", [first]
        ).fetchone()[0]
    )
    stored = laptop.repos.labs.get(old_lab)
    corrected = dataclasses.replace(stored.value, value=stored.value.value + Decimal("0.1"))
    laptop.repos.labs.update(
        old_lab, corrected, expected_version=stored.version, reason="typo on the road"
    )
    made["corrected_lab"] = old_lab
    old_ae = int(
        laptop.sql.execute(
            "SELECT min(id) FROM adverse_events WHERE patient_id = ? AND voided_at IS NULL",
            [first],
        ).fetchone()[0]
    )
    laptop.repos.adverse_events.void(
        old_ae, expected_version=laptop.repos.adverse_events.get(old_ae).version, reason="dup"
    )
    made["voided_ae"] = old_ae
    return made


# -- what a patient's chart is --------------------------------------------------------------------


def test_every_clinical_table_but_settings_leads_to_its_patient(record: Record) -> None:
    assert set(LINKS) == set(schema.CLINICAL_TABLES) - {"settings"}
    for table, column in LINKS.items():
        assert column in {c.name for c in record.sql.columns(table)}, table


# -- check-out ----------------------------------------------------------------------------------


def test_check_out_copies_whole_charts_and_locks_them_at_the_clinic(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    mrns = _out(clinic, laptop_path)
    out = checked_out_patients(clinic)
    assert sorted(o.mrn for o in out.values()) == sorted(mrns)
    assert all(o.laptop_label == LABEL for o in out.values())
    pid = _pid(clinic, mrns[0])
    before = _entries(clinic)
    with pytest.raises(CheckedOutError, match=f"checked out to the laptop {LABEL} since"):
        lab(clinic, pid, "anc", "2.0", "10^9/L", ROAD)
    assert _entries(clinic) == before  # nothing was saved
    with pytest.raises(CheckedOutError, match=LABEL), clinic.transaction() as sql:
        sql.execute(  # a signature on one of their rows is a change to their chart too
            "INSERT INTO signatures (user_id, printed_name, signed_at, meaning, table_name, "
            "row_id, created_by) VALUES ((SELECT min(id) FROM users), 'Ivan', "
            "'2026-11-25T10:00:00Z', 'reviewed', 'labs', (SELECT min(id) FROM labs WHERE "
            "patient_id = ?), ?)",
            [pid, clinic.actor],
        )
    assert _entries(clinic) == before
    other = _pid(clinic, _mrns(clinic, 3)[2])
    lab(clinic, other, "anc", "2.0", "10^9/L", ROAD)  # the others are writable
    chart = load_chart(clinic, pid)  # the chart reads as always, and says why it is read only
    assert chart.patient.mrn == mrns[0]
    assert any(f"Checked out to the laptop {LABEL} since" in p for p in chart.problems)
    assert not any("Checked out" in p for p in load_chart(clinic, other).problems)
    listed = {r.mrn: r for r in list_patient_rows(clinic, ROAD)}
    assert listed[mrns[0]].checked_out is not None
    assert listed[mrns[0]].checked_out.startswith(f"checked out to {LABEL} since")
    assert listed[_mrns(clinic, 3)[2]].checked_out is None
    assert check(clinic) == []
    laptop = on_the_road()
    with laptop:
        assert check(laptop) == []
        held = {str(r[0]) for r in laptop.sql.execute("SELECT mrn FROM patients").fetchall()}
        assert held == set(mrns)  # patients not checked out are not on it
        for table in ("labs", "dose_events", "signatures", "settings", "users"):
            assert laptop.sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        # The chart's rows and their trail are the clinic's own, id for id.
        ids = [pid]
        for table in ("patients", "labs"):
            column = "id" if table == "patients" else "patient_id"
            query = f"SELECT * FROM {table} WHERE {column} = ? ORDER BY id"
            assert laptop.sql.rows(query, ids) == clinic.sql.rows(query, ids)
        trail = (
            "SELECT at, via, app_user, os_user, reason, action, old_json, new_json FROM "
            "audit_log WHERE table_name = 'patients' AND row_id = ? ORDER BY id"
        )
        assert laptop.sql.rows(trail, ids) == clinic.sql.rows(trail, ids)


def test_check_out_refuses_unknown_taken_and_existing(clinic: Record, laptop_path: Path) -> None:
    laptop_path.parent.mkdir()
    before = _entries(clinic)
    with pytest.raises(CheckoutRefused, match="No patient has the MRN NOPE"):
        check_out(clinic, laptop_path, ["NOPE"], LABEL)
    assert not laptop_path.exists() and _entries(clinic) == before
    mrns = _out(clinic, laptop_path, 1)
    with pytest.raises(CheckoutRefused, match="already a file"):
        check_out(clinic, laptop_path, _mrns(clinic, 3)[2:], LABEL)
    with pytest.raises(CheckoutRefused, match=f"already checked out to the laptop {LABEL}"):
        check_out(clinic, laptop_path.with_name("other.sqlite3"), mrns, "Laptop 3")
    assert not laptop_path.with_name("other.sqlite3").exists()
    assert list(laptop_path.parent.iterdir()) == [laptop_path]  # no partial left behind


def test_a_laptop_file_that_cannot_be_written_marks_nothing(clinic: Record, tmp_path: Path) -> None:
    before = _entries(clinic)
    with pytest.raises(Exception, match="nothing"):
        check_out(clinic, tmp_path / "no such folder" / "l.sqlite3", _mrns(clinic), LABEL)
    assert checked_out_patients(clinic) == {} and _entries(clinic) == before


# -- check-in -----------------------------------------------------------------------------------


def test_round_trip_brings_back_every_change_with_its_trail(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    mrns = _out(clinic, laptop_path)
    # Meanwhile the clinic writes other patients' rows, taking the ids the laptop will use.
    other = _pid(clinic, _mrns(clinic, 3)[2])
    for _ in range(3):
        lab(clinic, other, "anc", "2.2", "10^9/L", ROAD)
    with on_the_road() as laptop:
        made = _road_changes(laptop, mrns)
        laptop.set_user(laptop.repos.users.authenticate(ADMIN, PASSWORD).username)
        laptop.repos.settings.set(CLINIC_PHONE, "555-0100", reason="road")  # stays there
    report = check_in(clinic, laptop_path)
    assert report.outcome == "applied", report.lines()
    assert report.new_rows["labs"] == 1 and report.new_rows["patients"] == 1
    assert report.changed_rows == {"labs": 1, "adverse_events": 1}
    assert report.left_on_laptop == {"settings": 1}
    assert check(clinic) == []  # every trail replays onto its row, ids remapped
    assert checked_out_patients(clinic) == {}
    first = _pid(clinic, mrns[0])
    road_lab = clinic.sql.rows(
        "SELECT * FROM labs WHERE patient_id = ? AND collected_at LIKE '2026-11-25%'", [first]
    )
    assert len(road_lab) == 1 and road_lab[0]["value"] == "1.4"
    entry = clinic.sql.rows(
        "SELECT via, app_user, reason FROM audit_log WHERE table_name = 'labs' AND row_id = ?",
        [road_lab[0]["id"]],
    )
    assert entry == [
        {"via": f"clinic-app on the laptop {LABEL}", "app_user": "ivan", "reason": None}
    ]
    # The new patient, its weight and the cycle pointing at it: fresh clinic ids, linked.
    new = _pid(clinic, "ROAD-1")
    cyc = clinic.sql.rows(
        "SELECT c.id, c.measurement_id FROM cycles c JOIN enrolments e ON e.id = c.enrolment_id "
        "WHERE e.patient_id = ?",
        [new],
    )
    assert len(cyc) == 1
    owner = clinic.sql.execute(
        "SELECT patient_id FROM body_measurements WHERE id = ?", [cyc[0]["measurement_id"]]
    ).fetchone()[0]
    assert owner == new
    assert (
        clinic.sql.execute(
            "SELECT count(*) FROM dose_events WHERE cycle_id = ?", [cyc[0]["id"]]
        ).fetchone()[0]
        == 1
    )
    corrected = clinic.sql.rows("SELECT version FROM labs WHERE id = ?", [made["corrected_lab"]])[
        0
    ]["version"]
    assert corrected == 2
    reason = clinic.sql.execute(
        "SELECT reason FROM audit_log WHERE table_name = 'labs' AND row_id = ? "
        "AND action = 'update'",
        [made["corrected_lab"]],
    ).fetchone()[0]
    assert reason == "typo on the road"
    voided = clinic.sql.execute(
        "SELECT void_reason FROM adverse_events WHERE id = ?", [made["voided_ae"]]
    ).fetchone()[0]
    assert voided == "dup"
    lab(clinic, first, "anc", "2.5", "10^9/L", ROAD)  # writable at the clinic again
    # The laptop notes it and takes no more changes to them.
    with on_the_road() as laptop:
        with pytest.raises(CheckedOutError, match="was checked in"):
            lab(laptop, _pid(laptop, mrns[0]), "anc", "1.0", "10^9/L", ROAD)
        assert check(laptop) == []


def test_checking_in_the_same_file_twice_changes_nothing_the_second_time(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    mrns = _out(clinic, laptop_path)
    with on_the_road() as laptop:
        _road_changes(laptop, mrns)
    steps: list[int] = []
    check_in(clinic, laptop_path, on_step=steps.append)
    assert steps == [0, 1, 2, 3]  # as each starts: file, changes, bringing back, the note
    before = _entries(clinic)
    steps.clear()
    again = check_in(clinic, laptop_path, on_step=steps.append)
    assert steps == [0, 1, 2]  # the laptop says checked in already: no note to write
    assert again.outcome == "already"
    assert "already checked in" in again.lines()[0] and "nothing changed" in again.lines()[0]
    assert _entries(clinic) == before


def test_changes_made_on_a_laptop_whose_note_failed_are_named_not_lost(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    mrns = _out(clinic, laptop_path, 1)
    check_in(clinic, laptop_path)
    with on_the_road() as laptop:
        with laptop.transaction(reason="as if the note had not been written") as sql:
            sql.execute(
                "UPDATE checkouts SET status = 'out', returned_at = NULL, returned_by = NULL, "
                "version = version + 1"
            )
        lab(laptop, _pid(laptop, mrns[0]), "anc", "0.9", "10^9/L", date(2027, 1, 5))
    before = _entries(clinic)
    again = check_in(clinic, laptop_path)
    assert again.outcome == "already" and _entries(clinic) == before
    assert "1 changes were made on the laptop after that" in again.lines()[0]
    with on_the_road() as laptop, pytest.raises(CheckedOutError):
        lab(laptop, _pid(laptop, mrns[0]), "anc", "0.8", "10^9/L", ROAD)  # noted again


def test_a_laptop_altered_outside_the_app_is_refused(
    clinic: Record, laptop_path: Path, engine: str
) -> None:
    mrns = _out(clinic, laptop_path, 1)
    with sqlite3.connect(laptop_path) as conn:  # behind the app's back, triggers dropped
        conn.execute("DROP TRIGGER labs_audit_update")
        conn.execute(
            "UPDATE labs SET value = '9.9', version = version + 1 WHERE id = (SELECT min(id) "
            "FROM labs)"
        )
    conn.close()
    before = _entries(clinic)
    steps: list[int] = []
    with pytest.raises(CheckoutRefused, match="altered outside clinic-app"):
        check_in(clinic, laptop_path, on_step=steps.append)
    assert steps == [0]  # refused while checking the file
    assert _entries(clinic) == before
    assert [o.mrn for o in checked_out_patients(clinic).values()] == mrns


def test_a_failure_at_the_end_of_check_in_leaves_the_clinic_as_before(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    mrns = _out(clinic, laptop_path)
    with on_the_road() as laptop:
        _road_changes(laptop, mrns)
    # The clinic meanwhile registers the road's new patient's MRN itself: the last rows of
    # the check-in clash with it, after its first rows were written.
    patient(clinic, "ROAD-1", "Clinic", "Clara")
    before = {
        t: clinic.sql.rows(f"SELECT * FROM {t} ORDER BY id")
        for t in ("audit_log", "labs", "patients", "checkouts")
    }
    with pytest.raises(CheckoutRefused, match="nothing was checked in"):
        check_in(clinic, laptop_path)
    after = {t: clinic.sql.rows(f"SELECT * FROM {t} ORDER BY id") for t in before}
    assert after == before
    assert sorted(o.mrn for o in checked_out_patients(clinic).values()) == sorted(mrns)


def test_a_cancelled_check_out_keeps_the_laptops_changes_for_review(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    mrns = _out(clinic, laptop_path, 1)
    with pytest.raises(PermissionDeniedError, match="Only an administrator"):
        cancel_checkout(clinic, mrns[0], "laptop lost")  # ivan is an investigator
    clinic.set_user(clinic.repos.users.authenticate(ADMIN, PASSWORD).username)
    with pytest.raises(CheckoutRefused, match="needs a reason"):
        cancel_checkout(clinic, mrns[0], " ")
    assert "was cancelled" in cancel_checkout(clinic, mrns[0], "laptop lost")
    clinic.set_user(clinic.repos.users.authenticate("ivan", PASSWORD).username)
    pid = _pid(clinic, mrns[0])
    lab(clinic, pid, "anc", "3.0", "10^9/L", ROAD)  # writable again at the clinic
    with on_the_road() as laptop:
        lab(laptop, pid, "anc", "1.1", "10^9/L", ROAD)
    labs_before = clinic.sql.rows("SELECT * FROM labs ORDER BY id")
    report = check_in(clinic, laptop_path)
    assert report.outcome == "review" and report.review_id is not None
    assert "kept in the clinic's record for review" in " ".join(report.lines())
    assert clinic.sql.rows("SELECT * FROM labs ORDER BY id") == labs_before  # nothing applied
    (kept,) = pending_reviews(clinic)
    assert kept.laptop_label == LABEL and kept.entries == 1
    assert kept.changes["rows"]["labs"][0]["value"] == "1.1"  # nothing lost
    assert check(clinic) == []
    before = _entries(clinic)
    assert check_in(clinic, laptop_path).outcome == "already"
    assert _entries(clinic) == before


def test_a_copy_of_the_clinic_keeps_its_check_outs(
    clinic: Record, laptop_path: Path, tmp_path: Path
) -> None:
    # A move onto the server, or a server's SQLite backup, must not make lent patients writable.
    mrns = _out(clinic, laptop_path)
    with open_database(tmp_path / "copy.sqlite3") as copy:
        copy_record(clinic, copy)
        assert check(copy) == []
        assert sorted(o.mrn for o in checked_out_patients(copy).values()) == sorted(mrns)
        copy.set_user(copy.repos.users.authenticate("ivan", PASSWORD).username)
        with pytest.raises(CheckedOutError):
            lab(copy, _pid(copy, mrns[0]), "anc", "2.0", "10^9/L", ROAD)


def test_a_cancelled_laptop_with_nothing_recorded_says_so(
    clinic: Record, laptop_path: Path
) -> None:
    mrns = _out(clinic, laptop_path, 1)
    clinic.set_user(clinic.repos.users.authenticate(ADMIN, PASSWORD).username)
    cancel_checkout(clinic, mrns[0], "laptop lost")
    clinic.set_user(clinic.repos.users.authenticate("ivan", PASSWORD).username)
    report = check_in(clinic, laptop_path)
    assert (report.outcome, report.review_id, pending_reviews(clinic)) == ("review", None, [])
    (line,) = report.lines()
    assert "had been cancelled" in line and "nothing to bring back or to keep for review" in line
