"""Settling a review set (issue 19): a cancelled laptop's changes, applied where the clinic's
row is unchanged since check-out, conflicts kept listed, dismissal keeping everything."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.storage.backup import check
from clinic_app.storage.checkout import cancel_checkout, check_in, pending_reviews
from clinic_app.storage.checkout.out import CheckoutRefused
from clinic_app.storage.checkout.review import (
    APPLIED,
    CLEAN,
    CONFLICT,
    apply_review,
    dismiss_review,
    review_changes,
)
from clinic_app.storage.database import Record
from clinic_app.storage.permissions import PermissionDeniedError

from ..services.helpers import cycle, lab, planned_dose
from .test_checkout import ROAD, _entries, _out, _pid, clinic, laptop_path, on_the_road
from .test_copy_record import ADMIN, PASSWORD

__all__ = ["clinic", "laptop_path", "on_the_road"]  # fixtures used by name


def _first(record: Record, table: str, pid: int) -> int:
    found = record.sql.execute(
        f"SELECT min(id) FROM {table} WHERE patient_id = ? AND voided_at IS NULL", [pid]
    ).fetchone()
    return int(found[0])


def _correct_lab(record: Record, lab_id: int, by: str, reason: str) -> None:
    stored = record.repos.labs.get(lab_id)
    changed = dataclasses.replace(stored.value, value=stored.value.value + Decimal(by))
    record.repos.labs.update(lab_id, changed, expected_version=stored.version, reason=reason)


def _sign_in(record: Record, name: str) -> None:
    record.set_user(record.repos.users.authenticate(name, PASSWORD).username)


@pytest.fixture
def kept(clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]) -> dict[str, int]:
    """A cancelled check-out whose laptop made a new lab, two corrections and a void, one of the
    corrections on a lab the clinic corrected too meanwhile; checked in into a review set."""
    (mrn,) = _out(clinic, laptop_path, 1)
    pid = _pid(clinic, mrn)
    _sign_in(clinic, ADMIN)
    cancel_checkout(clinic, mrn, "laptop lost")
    _sign_in(clinic, "ivan")
    both = _first(clinic, "labs", pid)
    _correct_lab(clinic, both, "0.5", "clinic's correction")
    ae = _first(clinic, "adverse_events", pid)
    with on_the_road() as laptop:
        new = lab(laptop, pid, "anc", "1.1", "10^9/L", ROAD)
        _correct_lab(laptop, both, "0.2", "laptop's correction")
        laptop.repos.adverse_events.void(
            ae, expected_version=laptop.repos.adverse_events.get(ae).version, reason="dup"
        )
    report = check_in(clinic, laptop_path)
    assert report.outcome == "review" and report.review_id is not None
    return {"set": report.review_id, "pid": pid, "both": both, "ae": ae, "new": new}


def test_changes_are_shown_beside_the_clinics_rows_with_conflicts_named(
    clinic: Record, kept: dict[str, int]
) -> None:
    changes = {(c.table, c.row_id): c for c in review_changes(clinic, kept["set"])}
    conflict = changes[("labs", kept["both"])]
    assert conflict.state == CONFLICT and conflict.kind == "correction"
    assert conflict.reason == "laptop's correction"
    assert conflict.laptop["value"] != conflict.clinic["value"]  # type: ignore[index]
    assert "value" in conflict.differences()
    assert changes[("adverse_events", kept["ae"])].state == CLEAN
    assert changes[("adverse_events", kept["ae"])].kind == "void"
    new = changes[("labs", kept["new"])]
    assert new.kind == "new" and new.state == CLEAN and new.clinic is None
    assert new.laptop["value"] == "1.1"
    assert {c.patient for c in changes.values()} == {
        str(
            clinic.sql.execute("SELECT mrn FROM patients WHERE id = ?", [kept["pid"]]).fetchone()[0]
        )
    }


def test_apply_brings_what_does_not_conflict_and_keeps_the_conflict_listed(
    clinic: Record, kept: dict[str, int]
) -> None:
    with pytest.raises(PermissionDeniedError, match="Only an administrator"):
        apply_review(clinic, kept["set"], "laptop found")  # ivan is an investigator
    _sign_in(clinic, ADMIN)
    with pytest.raises(CheckoutRefused, match="needs a reason"):
        apply_review(clinic, kept["set"], "  ")
    clinic_lab = clinic.sql.rows("SELECT * FROM labs WHERE id = ?", [kept["both"]])
    labs_before = int(clinic.sql.execute("SELECT count(*) FROM labs").fetchone()[0])

    said = apply_review(clinic, kept["set"], "laptop found")

    assert "1 change not applied" in said
    assert int(clinic.sql.execute("SELECT count(*) FROM labs").fetchone()[0]) == labs_before + 1
    arrived = clinic.sql.rows(
        "SELECT * FROM labs WHERE patient_id = ? AND value = '1.1'", [kept["pid"]]
    )
    assert len(arrived) == 1
    assert clinic.sql.execute(
        "SELECT voided_at FROM adverse_events WHERE id = ?", [kept["ae"]]
    ).fetchone()[0]
    assert clinic.sql.rows("SELECT * FROM labs WHERE id = ?", [kept["both"]]) == clinic_lab
    via = clinic.sql.execute(
        "SELECT via, reason FROM audit_log WHERE table_name = 'labs' AND row_id = ? "
        "ORDER BY id DESC LIMIT 1",
        [arrived[0]["id"]],
    ).fetchone()
    assert str(via[0]).endswith(f"(applied from review by {clinic.actor}) on the laptop Laptop 2")
    states = {(c.table, c.row_id): c.state for c in review_changes(clinic, kept["set"])}
    assert states[("labs", kept["both"])] == CONFLICT
    assert states[("labs", kept["new"])] == APPLIED
    assert [r.id for r in pending_reviews(clinic)] == [kept["set"]]  # still to settle
    assert check(clinic) == []

    entries, labs_now = _entries(clinic), clinic.sql.rows("SELECT * FROM labs ORDER BY id")
    assert "nothing changed" in apply_review(clinic, kept["set"], "again")
    assert _entries(clinic) == entries
    assert clinic.sql.rows("SELECT * FROM labs ORDER BY id") == labs_now


def test_dismiss_settles_the_set_and_keeps_its_changes(
    clinic: Record, kept: dict[str, int]
) -> None:
    with pytest.raises(PermissionDeniedError, match="Only an administrator"):
        dismiss_review(clinic, kept["set"], "not needed")
    _sign_in(clinic, ADMIN)
    with pytest.raises(CheckoutRefused, match="needs a reason"):
        dismiss_review(clinic, kept["set"], "")
    stored = clinic.sql.execute(
        "SELECT changes FROM checkin_reviews WHERE id = ?", [kept["set"]]
    ).fetchone()[0]
    assert "dismissed" in dismiss_review(clinic, kept["set"], "entered again by hand")
    assert pending_reviews(clinic) == []
    row = clinic.sql.rows("SELECT * FROM checkin_reviews WHERE id = ?", [kept["set"]])[0]
    assert row["status"] == "settled" and row["settled_note"] == "dismissed: entered again by hand"
    assert row["changes"] == stored and json.loads(str(stored))["entries"]
    assert "already settled" in apply_review(clinic, kept["set"], "too late")
    assert check(clinic) == []


def test_a_set_kept_before_accounts_and_keys_were_stored_still_applies(
    clinic: Record, kept: dict[str, int]
) -> None:
    with clinic.transaction(reason="a set as an older clinic-app kept it") as sql:
        text = sql.execute("SELECT changes FROM checkin_reviews WHERE id = ?", [kept["set"]])
        data = json.loads(str(text.fetchone()[0]))
        del data["users"], data["foreign_keys"]
        sql.execute(
            "UPDATE checkin_reviews SET changes = ?, version = version + 1 WHERE id = ?",
            [json.dumps(data), kept["set"]],
        )
    _sign_in(clinic, ADMIN)
    labs = int(clinic.sql.execute("SELECT count(*) FROM labs").fetchone()[0])
    assert "1 new entry and" in apply_review(clinic, kept["set"], "laptop found")
    assert int(clinic.sql.execute("SELECT count(*) FROM labs").fetchone()[0]) == labs + 1
    assert check(clinic) == []


def _live_cycle_with_a_dose(record: Record, pid: int) -> tuple[int, int, int]:
    """(enrolment, cycle, dose) of the patient's first live cycle that has a live dose."""
    found = record.sql.execute(
        "SELECT c.enrolment_id, c.id, min(d.id) FROM cycles c JOIN enrolments e ON "
        "e.id = c.enrolment_id JOIN dose_events d ON d.cycle_id = c.id WHERE e.patient_id = ? "
        "AND c.voided_at IS NULL AND d.voided_at IS NULL GROUP BY c.enrolment_id, c.id "
        "ORDER BY c.id LIMIT 1",
        [pid],
    ).fetchone()
    return int(found[0]), int(found[1]), int(found[2])


def _correct_dose(record: Record, dose_id: int, reason: str) -> None:
    stored = record.repos.doses.get(dose_id)
    changed = dataclasses.replace(stored.value, dose_mg=stored.value.dose_mg + Decimal("0.1"))
    record.repos.doses.update(dose_id, changed, expected_version=stored.version, reason=reason)


def _void(record: Record, repo: str, row_id: int) -> None:
    rows = getattr(record.repos, repo)
    rows.void(row_id, expected_version=rows.get(row_id).version, reason="entered in error")


def _lost_laptop(clinic: Record, laptop_path: Path) -> int:
    """A patient checked out to a laptop whose check-out is then cancelled (a lost laptop)."""
    (mrn,) = _out(clinic, laptop_path, 1)
    _sign_in(clinic, ADMIN)
    cancel_checkout(clinic, mrn, "laptop lost")
    _sign_in(clinic, "ivan")
    return _pid(clinic, mrn)


def test_a_change_whose_cycle_the_clinic_voided_since_is_a_conflict_saying_so(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    pid = _lost_laptop(clinic, laptop_path)
    _eid, cid, dose = _live_cycle_with_a_dose(clinic, pid)
    _void(clinic, "cycles", cid)  # at the clinic, after check-out
    with on_the_road() as laptop:
        added = planned_dose(laptop, cid, 1, "bortezomib", "2.6", "SC")
        _correct_dose(laptop, dose, "laptop's dose correction")
        new_lab = lab(laptop, pid, "anc", "1.3", "10^9/L", ROAD)
    report = check_in(clinic, laptop_path)
    assert report.review_id is not None
    changes = {(c.table, c.row_id): c for c in review_changes(clinic, report.review_id)}
    why = "the clinic voided the cycle this dose belongs to since check-out"
    for row_id, kind in ((added, "new"), (dose, "correction")):
        change = changes[("dose_events", row_id)]
        assert change.state == CONFLICT and change.kind == kind
        assert change.why == why
        assert change.said == f"conflict: {why}"
    assert changes[("labs", new_lab)].state == CLEAN

    _sign_in(clinic, ADMIN)
    doses = clinic.sql.rows("SELECT * FROM dose_events WHERE cycle_id = ? ORDER BY id", [cid])
    said = apply_review(clinic, report.review_id, "laptop found")
    assert "1 new entry and 0 corrections or voids" in said and "2 changes not applied" in said
    assert clinic.sql.rows("SELECT * FROM dose_events WHERE cycle_id = ? ORDER BY id", [cid]) == (
        doses
    )
    assert clinic.sql.rows("SELECT id FROM labs WHERE patient_id = ? AND value = '1.3'", [pid])
    states = {(c.table, c.row_id): c.state for c in review_changes(clinic, report.review_id)}
    assert states == {
        ("dose_events", added): CONFLICT,
        ("dose_events", dose): CONFLICT,
        ("labs", new_lab): APPLIED,
    }
    assert [r.id for r in pending_reviews(clinic)] == [report.review_id]
    assert check(clinic) == []

    entries, doses_now = _entries(clinic), clinic.sql.rows("SELECT * FROM dose_events")
    assert "nothing changed" in apply_review(clinic, report.review_id, "again")
    assert _entries(clinic) == entries
    assert clinic.sql.rows("SELECT * FROM dose_events") == doses_now


def test_a_voided_enrolment_takes_its_cycles_and_their_new_doses_with_it(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    pid = _lost_laptop(clinic, laptop_path)
    eid, cid, _dose = _live_cycle_with_a_dose(clinic, pid)
    _void(clinic, "enrolments", eid)
    with on_the_road() as laptop:
        in_old = planned_dose(laptop, cid, 2, "bortezomib", "2.6", "SC")
        new_cycle = cycle(laptop, eid, 99, "treatment", ROAD)
        in_new = planned_dose(laptop, new_cycle, 1, "bortezomib", "2.6", "SC")
    report = check_in(clinic, laptop_path)
    assert report.review_id is not None
    changes = review_changes(clinic, report.review_id)
    assert {c.state for c in changes} == {CONFLICT}
    assert {(c.table, c.row_id): c.why for c in changes} == {
        ("cycles", new_cycle): "the clinic voided the enrolment this cycle belongs to since "
        "check-out",
        ("dose_events", in_old): "the clinic voided the enrolment this dose belongs to since "
        "check-out",
        ("dose_events", in_new): "the new cycle this dose belongs to is a conflict too",
    }
    _sign_in(clinic, ADMIN)
    cycles = clinic.sql.rows("SELECT * FROM cycles ORDER BY id")
    said = apply_review(clinic, report.review_id, "laptop found")
    assert "Nothing in the set" in said and "nothing changed" in said
    assert clinic.sql.rows("SELECT * FROM cycles ORDER BY id") == cycles


def test_a_cycle_voided_before_check_out_takes_corrections_but_no_new_doses(
    clinic: Record, laptop_path: Path, on_the_road: Callable[[], Record]
) -> None:
    first = int(
        clinic.sql.execute("SELECT min(id) FROM patients WHERE voided_at IS NULL").fetchone()[0]
    )
    _eid, cid, dose = _live_cycle_with_a_dose(clinic, first)
    _void(clinic, "cycles", cid)  # the laptop took it out voided: nothing new since
    assert _lost_laptop(clinic, laptop_path) == first
    with on_the_road() as laptop:
        added = planned_dose(laptop, cid, 1, "bortezomib", "2.6", "SC")
        _correct_dose(laptop, dose, "laptop's dose correction")
    report = check_in(clinic, laptop_path)
    assert report.review_id is not None
    changes = {(c.table, c.row_id): c for c in review_changes(clinic, report.review_id)}
    assert changes[("dose_events", dose)].state == CLEAN
    assert changes[("dose_events", added)].state == CONFLICT
    assert changes[("dose_events", added)].why == (
        "the cycle this dose belongs to is voided at the clinic"
    )
