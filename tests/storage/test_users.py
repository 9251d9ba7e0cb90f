"""Accounts, roles enforced by the repositories, sign-in delays, signatures and drafts."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlite_utils import Database

from clinic_app.core.decisions import Decision, DecisionKind, DltReview
from clinic_app.core.errors import DomainError
from clinic_app.core.records import DoseModification, Enrolment, LabResult
from clinic_app.storage import schema
from clinic_app.storage.database import Record, open_database, schema_problems
from clinic_app.storage.permissions import (
    Permission,
    PermissionDeniedError,
    Role,
    allows,
    who_may,
)
from clinic_app.storage.signatures import Signer
from clinic_app.storage.users import SignInRefused, delay_after

from .conftest import make_patient

ADMIN_PW = "admin password 1"
NURSE_PW = "nurse password 22"
INV_PW = "investigator pw 333"


@pytest.fixture
def accounts(db_path: Path) -> Iterator[Record]:
    """A record with an administrator, nurse.a and dr.b, signed in as the administrator."""
    rec = open_database(db_path)
    rec.repos.users.create_first_administrator("admin", "Ada Admin", ADMIN_PW)
    rec.set_user("admin")
    rec.repos.users.add("nurse.a", "Nina Nurse", Role.NURSE, NURSE_PW)
    rec.repos.users.add("dr.b", "Dr Bea Byrne", Role.INVESTIGATOR, INV_PW)
    try:
        yield rec
    finally:
        rec.close()


PASSWORDS = {"admin": ADMIN_PW, "nurse.a": NURSE_PW, "dr.b": INV_PW}


def sign_in(record: Record, name: str) -> None:
    """Act as ``name`` the only way there is: with the password."""
    record.repos.users.authenticate(name, PASSWORDS[name])
    record.set_user(name)


def _enrolment(pid: int) -> Enrolment:
    return Enrolment(
        patient_id=pid,
        protocol="dextr",
        enrolled_on=date(2026, 1, 2),
        consent_on=date(2026, 1, 1),
        gates={"rems": date(2026, 1, 1)},
        dose_level=1,
    )


def _lab() -> LabResult:
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    return LabResult("anc", Decimal("1.2"), "10^9/L", at, Decimal("1.2"), lln=Decimal("1.5"))


def test_hash_parameters_meet_the_owasp_minimum(accounts: Record) -> None:
    (stored,) = accounts.db.execute(
        "SELECT password_hash FROM users WHERE username = 'nurse.a'"
    ).fetchone()
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", stored)
    assert match is not None, stored
    memory, time_cost, parallel = (int(g) for g in match.groups())
    # OWASP Password Storage Cheat Sheet: m >= 19 MiB = 19 * 1024 = 19456 KiB, t >= 2, p = 1.
    assert memory >= 19456
    assert time_cost >= 2
    assert parallel == 1


def test_no_password_in_clear_in_the_file_or_the_audit_log(accounts: Record, db_path: Path) -> None:
    accounts.repos.users.reset_password("nurse.a", "a brand new secret 9")
    with pytest.raises(SignInRefused):
        accounts.repos.users.authenticate("dr.b", "wrong guess 12345")
    accounts.repos.users.authenticate("dr.b", INV_PW)
    audit = "\n".join(
        str(r) for r in accounts.db.execute("SELECT * FROM audit_log").fetchall()
    ).encode()
    accounts.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blobs = [db_path.read_bytes(), audit]
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists():
        blobs.append(wal.read_bytes())
    for secret in (ADMIN_PW, NURSE_PW, INV_PW, "a brand new secret 9", "wrong guess 12345"):
        for blob in blobs:
            assert secret.encode() not in blob
    assert b"password_hash" not in audit  # the hash is kept out of the audit JSON too


def test_open_mode_without_accounts_allows_every_write(record: Record) -> None:
    assert not record.has_users() and record.role is None
    pid = record.repos.patients.add(make_patient())
    eid = record.repos.enrolments.add(_enrolment(pid))
    assert record.repos.dlt_reviews.add(DltReview(eid, proposed=True)) > 0


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("enrolment", "Only an investigator may enrol a patient"),
        ("dlt", "Only an investigator may confirm a DLT"),
        ("modification", "Only an investigator may modify a dose"),
        ("setting", "Only an administrator may change settings"),
        ("phase", "Only an investigator may record a phase decision"),
    ],
)
def test_a_nurse_record_cannot_write_investigator_or_admin_rows(
    accounts: Record, what: str, expected: str
) -> None:
    sign_in(accounts, "dr.b")
    pid = accounts.repos.patients.add(make_patient())
    eid = accounts.repos.enrolments.add(_enrolment(pid))
    sign_in(accounts, "nurse.a")
    before = accounts.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(PermissionDeniedError) as refused:
        if what == "enrolment":
            accounts.repos.enrolments.add(_enrolment(pid))
        elif what == "dlt":
            accounts.repos.dlt_reviews.add(DltReview(eid, proposed=True, confirmed=True))
        elif what == "modification":
            accounts.repos.modifications.add(
                eid,
                DoseModification(
                    "lenalidomide",
                    Decimal("25"),
                    Decimal("15"),
                    "G4 ANC",
                    2,
                    "Nina",
                    date(2026, 2, 1),
                ),
            )
        elif what == "setting":
            accounts.repos.settings.set("display.x", 1, reason="try")
        else:
            accounts.repos.decisions.add(
                Decision(eid, DecisionKind.PHASE, "Nina", date(2026, 2, 1), reason="x")
            )
    message = str(refused.value)
    assert message.startswith(expected)
    assert "you are signed in as nurse.a (nurse). Nothing was saved" in message
    assert accounts.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before


def test_a_nurse_enters_labs_and_an_administrator_enters_no_clinical_data(
    accounts: Record,
) -> None:
    sign_in(accounts, "nurse.a")
    pid = accounts.repos.patients.add(make_patient())
    lab_id = accounts.repos.labs.add(pid, _lab())
    stored = accounts.repos.labs.get(lab_id)
    assert stored.created_by.startswith("nurse.a (")
    sign_in(accounts, "admin")
    with pytest.raises(PermissionDeniedError, match="Only a nurse or an investigator may"):
        accounts.repos.labs.void(lab_id, expected_version=stored.version, reason="error")
    accounts.repos.settings.set("display.x", 1, reason="admin may")


def test_with_accounts_a_connection_without_a_user_is_read_only(
    accounts: Record, db_path: Path
) -> None:
    with open_database(db_path) as anonymous:
        assert anonymous.repos.users.find("nurse.a") is not None  # reads need no sign-in
        with pytest.raises(PermissionDeniedError, match="you must sign in to add or change"):
            anonymous.repos.patients.add(make_patient())
    with (
        open_database(db_path, app_user="ghost") as ghost,
        pytest.raises(PermissionDeniedError, match="you must sign in"),
    ):
        ghost.repos.patients.add(make_patient())


def test_a_deactivated_account_can_neither_write_nor_sign_in(accounts: Record) -> None:
    with open_database(accounts.path) as nurse_window:
        sign_in(nurse_window, "nurse.a")  # signed in before the administrator acts
        accounts.repos.users.set_active("nurse.a", False)
        with pytest.raises(PermissionDeniedError):
            nurse_window.repos.patients.add(make_patient())
    with pytest.raises(SignInRefused, match="deactivated"):
        accounts.repos.users.authenticate("nurse.a", NURSE_PW)


def test_only_administrators_manage_accounts_and_one_always_remains(accounts: Record) -> None:
    with pytest.raises(DomainError, match="only active administrator"):
        accounts.repos.users.set_active("admin", False)
    with pytest.raises(DomainError, match="only active administrator"):
        accounts.repos.users.set_role("admin", Role.NURSE)
    with pytest.raises(DomainError, match="taken"):
        accounts.repos.users.add("NURSE.A", "Other", Role.NURSE, "long enough pw")
    with pytest.raises(DomainError, match="at least 12 characters \\(it has 11\\)"):
        accounts.repos.users.add("c", "C", Role.NURSE, "eleven char")
    sign_in(accounts, "dr.b")
    with pytest.raises(PermissionDeniedError, match="Only an administrator may manage"):
        accounts.repos.users.add("x", "X", Role.NURSE, "long enough pw")
    with pytest.raises(DomainError, match="already has accounts"):
        accounts.repos.users.create_first_administrator("root2", "R", "long enough pw")


def test_delay_boundaries() -> None:
    # No delay for the first two failures; from the third, 2 ** (n - 2) s, capped at 300 s.
    assert delay_after(2) == 0
    assert delay_after(3) == 2  # 2 ** 1
    assert delay_after(4) == 4  # 2 ** 2
    assert delay_after(10) == 256  # 2 ** 8
    assert delay_after(11) == 300  # 2 ** 9 = 512 > 300


def test_failed_sign_ins_slow_down_and_are_audited(accounts: Record) -> None:
    now = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    users = accounts.repos.users
    users.clock = lambda: now
    for expected in (0, 0, 2):  # failures 1, 2, 3
        with pytest.raises(SignInRefused) as refused:
            users.authenticate("nurse.a", "not the password")
        assert refused.value.retry_after == expected
    # Within the 2 s even the right password is not checked.
    now += timedelta(seconds=1)
    with pytest.raises(SignInRefused, match="try again in 1 seconds"):
        users.authenticate("nurse.a", NURSE_PW)
    now += timedelta(seconds=1)  # exactly 2 s after the third failure: allowed
    assert users.wait_seconds("nurse.a") == 0
    user = users.authenticate("nurse.a", NURSE_PW)
    assert (user.failed_attempts, user.locked_until) == (0, None)
    with pytest.raises(SignInRefused, match="wrong"):
        users.authenticate("nobody", "whatever pw")
    failures = accounts.db.execute(
        "SELECT username, at FROM sign_in_failures ORDER BY id"
    ).fetchall()
    assert [f[0] for f in failures] == ["nurse.a"] * 3 + ["nobody"]
    assert failures[0][1] == "2026-03-01T09:00:00.000Z"
    audited = accounts.db.execute(
        "SELECT count(*) FROM audit_log WHERE table_name = 'sign_in_failures' "
        "AND reason LIKE 'sign-in as %'"
    ).fetchone()[0]
    assert audited == 4


def test_audit_log_names_the_app_user_and_the_os_user(accounts: Record) -> None:
    sign_in(accounts, "nurse.a")
    pid = accounts.repos.patients.add(make_patient())
    app_user, os_user = accounts.db.execute(
        "SELECT app_user, os_user FROM audit_log WHERE table_name = 'patients' AND row_id = ?",
        [pid],
    ).fetchone()
    assert app_user == "nurse.a"
    assert os_user == accounts.os_user and os_user


def test_signature_is_recorded_with_name_time_and_meaning(accounts: Record) -> None:
    sign_in(accounts, "dr.b")
    pid = accounts.repos.patients.add(make_patient())
    eid = accounts.repos.enrolments.add(_enrolment(pid))
    signer = Signer(
        accounts.repos.users.authenticate("dr.b", INV_PW), "I confirm this DLT decision"
    )
    with accounts.transaction(reason="DLT confirmed"):
        review_id = accounts.repos.dlt_reviews.add(DltReview(eid, proposed=True, confirmed=True))
        accounts.repos.signatures.sign(
            signer, "dlt_reviews", review_id, at=datetime(2026, 2, 3, 14, 5, 59, tzinfo=UTC)
        )
    (signature,) = accounts.repos.signatures.for_row("dlt_reviews", review_id)
    assert signature.line() == (
        "Signed by Dr Bea Byrne (dr.b) on 2026-02-03 14:05 UTC: I confirm this DLT decision"
    )
    with pytest.raises(DomainError, match=r"cannot sign for dr\.b|not entered their password"):
        nurse = accounts.repos.users.get("nurse.a")
        accounts.repos.signatures.sign(Signer(nurse, "x"), "dlt_reviews", review_id)


def test_drafts_are_kept_for_their_author_and_closed_once_used(accounts: Record) -> None:
    sign_in(accounts, "nurse.a")
    pid = accounts.repos.patients.add(make_patient())
    nurse = accounts.repos.users.get("nurse.a")
    drafts = accounts.repos.drafts
    drafts.keep(nurse, "lab_entry", pid, {"anc": "1.2"})
    (draft,) = drafts.waiting(nurse, "lab_entry", pid)
    assert draft.fields == {"anc": "1.2"}
    assert drafts.waiting(accounts.repos.users.get("dr.b"), "lab_entry", pid) == []
    drafts.close(draft, "draft restored")
    assert drafts.waiting(nurse, "lab_entry", pid) == []


def test_upgrading_a_version_2_file_adds_the_account_tables(db_path: Path) -> None:
    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before="0003_users")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.execute(
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('V2-1', 'Okafor', 'Ife', '1950-01-01', 'F')"
    )
    db.close()
    with open_database(db_path) as rec:
        assert rec.sql.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert {"users", "signatures", "drafts", "sign_in_failures"} <= set(rec.db.table_names())
        assert schema_problems(rec) == []
        assert not rec.has_users()  # open mode until the first account
        assert rec.repos.patients.by_mrn("V2-1") is not None


def test_role_table() -> None:
    assert allows(Role.NURSE, Permission.LABS)
    assert not allows(Role.NURSE, Permission.DLT_CONFIRMATION)
    assert allows(Role.INVESTIGATOR, Permission.DLT_CONFIRMATION)
    assert not allows(Role.ADMINISTRATOR, Permission.LABS)
    assert allows(Role.ADMINISTRATOR, Permission.USERS)
    assert not allows(None, Permission.PRINTING)
    assert who_may(Permission.AUDIT) == "an investigator or an administrator"
