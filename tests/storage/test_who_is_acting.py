"""Who is acting (issue 15, item 4): once a record has accounts a name without its password acts
as nobody; signed decisions are refused without a signature whatever path writes them; the
demo writes as an explicitly named generator in open mode and signs with accounts; usernames
are one name whatever the letter case."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.core.decisions import DltReview
from clinic_app.core.errors import DomainError
from clinic_app.storage.database import Session, open_database
from clinic_app.storage.permissions import PermissionDeniedError, Role

ADMIN_PW = "admin password 1"
INV_PW = "investigator pw 333"
TODAY = date(2026, 3, 2)


@pytest.fixture
def accounts(db_path: Path) -> Path:
    from clinic_app.services.demo import generate_demo

    with open_database(db_path) as rec:
        generate_demo(rec, patients=4, seed=3, today=TODAY)  # open mode
        rec.repos.users.create_first_administrator("admin", "Ada Admin", ADMIN_PW)
        rec.set_user("admin")
        rec.repos.users.add("dr.b", "Dr Bea Byrne", Role.INVESTIGATOR, INV_PW)
    return db_path


def _review(enrolment_id: int) -> DltReview:
    return DltReview(
        enrolment_id,
        proposed=True,
        confirmed=True,
        evaluable=True,
        reviewer="Dr Bea Byrne",
        reviewed_on=TODAY,
        reason="febrile neutropenia",
    )


def _enrolment(rec_path: Path) -> int:
    with open_database(rec_path) as rec:
        return int(rec.sql.execute("SELECT min(id) FROM enrolments").fetchone()[0])


def test_a_name_handed_to_open_database_acts_as_nobody(accounts: Path) -> None:
    eid = _enrolment(accounts)
    with open_database(accounts, app_user="dr.b") as forged:
        assert forged.app_user is None and forged.role is None
        with pytest.raises(PermissionDeniedError, match="must sign in"):
            forged.repos.dlt_reviews.add(_review(eid))


def test_set_user_without_a_password_is_refused(accounts: Path) -> None:
    with open_database(accounts) as rec:
        with pytest.raises(PermissionDeniedError, match="has not signed in with a password"):
            rec.set_user("dr.b")
        assert rec.app_user is None


def test_a_made_up_session_is_refused(accounts: Path) -> None:
    with pytest.raises(PermissionDeniedError, match="sign in with the password"):
        open_database(accounts, app_user=Session("dr.b", "0" * 32))


def test_a_session_carries_a_real_sign_in_to_a_worker_connection(accounts: Path) -> None:
    with open_database(accounts) as window:
        window.repos.users.authenticate("dr.b", INV_PW)
        window.set_user("dr.b")
        session = window.session
        assert session is not None
        with open_database(accounts, app_user=session) as worker:
            assert worker.app_user == "dr.b" and worker.role is Role.INVESTIGATOR


def test_an_unsigned_dlt_confirmation_is_refused_by_the_record(accounts: Path) -> None:
    eid = _enrolment(accounts)
    with open_database(accounts) as rec:
        rec.repos.users.authenticate("dr.b", INV_PW)
        rec.set_user("dr.b")
        before = len(rec.repos.dlt_reviews.for_enrolment(eid))
        with pytest.raises(PermissionDeniedError, match="must be signed"):
            rec.repos.dlt_reviews.add(_review(eid))  # a script calling the service path
        assert len(rec.repos.dlt_reviews.for_enrolment(eid)) == before  # rolled back
        from clinic_app.storage.signatures import MEANINGS, Signer

        me = rec.repos.users.get("dr.b")
        with rec.transaction(reason="DLT confirmed"):
            review_id = rec.repos.dlt_reviews.add(_review(eid))
            rec.repos.signatures.sign(Signer(me, MEANINGS["dlt_reviews"]), "dlt_reviews", review_id)
        assert len(rec.repos.dlt_reviews.for_enrolment(eid)) == before + 1


def test_the_command_line_reads_the_password_from_stdin(
    accounts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["users", "add", "nurse.x", "--full-name", "N X", "--role", "nurse"]
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong password 99\n"))
    assert main([*args, "--user", "admin", "--db", str(accounts)]) == 2
    assert "wrong" in capsys.readouterr().err
    monkeypatch.setattr(
        "sys.stdin", io.StringIO(f"{ADMIN_PW}\nnurse password 1\nnurse password 1\n")
    )
    assert main([*args, "--user", "admin", "--db", str(accounts)]) == 0


def test_demo_in_open_mode_names_the_generator(db_path: Path) -> None:
    from clinic_app.services.demo import DEMO_ACTOR, generate_demo

    with open_database(db_path) as rec:
        generate_demo(rec, patients=4, seed=3, today=TODAY)
        actors = {
            r[0]
            for r in rec.sql.execute(
                "SELECT DISTINCT app_user FROM audit_log WHERE table_name IN "
                "('decisions', 'dlt_reviews', 'dose_modifications')"
            )
        }
    assert actors == {DEMO_ACTOR}


def test_demo_on_a_record_with_accounts_signs_its_decisions(db_path: Path) -> None:
    from clinic_app.services.demo import generate_demo

    with open_database(db_path) as rec:
        rec.repos.users.create_first_administrator("admin", "Ada Admin", ADMIN_PW)
        rec.set_user("admin")
        rec.repos.users.add("dr.b", "Dr Bea Byrne", Role.INVESTIGATOR, INV_PW)
        # The clinic's settings are the administrator's (the demo keeps ones already set).
        rec.repos.settings.set("clinic.name", "Test Clinic", reason="setup")
        rec.repos.settings.set("clinic.phone", "+44 20 7946 0000", reason="setup")
        rec.repos.users.authenticate("dr.b", INV_PW)
        rec.set_user("dr.b")
        generate_demo(rec, patients=6, seed=3, today=TODAY)
        unsigned = rec.sql.execute(
            "SELECT count(*) FROM dlt_reviews r WHERE NOT EXISTS (SELECT 1 FROM signatures s "
            "WHERE s.table_name = 'dlt_reviews' AND s.row_id = r.id)"
        ).fetchone()[0]
        reviews = rec.sql.execute("SELECT count(*) FROM dlt_reviews").fetchone()[0]
    assert reviews > 0 and unsigned == 0


def test_usernames_are_one_name_whatever_the_letter_case(db_path: Path) -> None:
    with open_database(db_path) as rec:
        rec.repos.users.create_first_administrator("Łukasz", "Łukasz Admin", ADMIN_PW)
        rec.set_user("Łukasz")
        for name in ("łukasz", "ŁUKASZ"):
            with pytest.raises(DomainError, match="taken"):
                rec.repos.users.add(name, "Someone Else", Role.NURSE, INV_PW)


def test_signing_out_forgets_the_password_check(accounts: Path) -> None:
    with open_database(accounts) as rec:
        rec.repos.users.authenticate("dr.b", INV_PW)
        rec.set_user("dr.b")
        rec.set_user(None)  # signed out (or the window was locked and someone else came)
        with pytest.raises(PermissionDeniedError, match="has not signed in with a password"):
            rec.set_user("dr.b")


def test_one_signature_covers_the_rows_of_one_decision(accounts: Path) -> None:
    """Accepting "off study" at the end of a cycle writes the phase decision and the off-study
    decision together; the investigator signs the decision once. Alone, either is refused."""
    from clinic_app.core.decisions import Decision, DecisionKind
    from clinic_app.storage.signatures import MEANINGS, Signer

    eid = _enrolment(accounts)

    def decision(kind: DecisionKind) -> Decision:
        return Decision(eid, kind, "Dr Bea Byrne", TODAY, {"cycle": 1}, "progression")

    with open_database(accounts) as rec:
        rec.repos.users.authenticate("dr.b", INV_PW)
        rec.set_user("dr.b")
        me = rec.repos.users.get("dr.b")
        with rec.transaction(reason="end-of-cycle proposal accepted"):
            phase = rec.repos.decisions.add(decision(DecisionKind.PHASE))
            rec.repos.decisions.add(decision(DecisionKind.OFF_STUDY))
            rec.repos.signatures.sign(Signer(me, MEANINGS["decisions"]), "decisions", phase)
        with pytest.raises(PermissionDeniedError, match="must be signed"):
            rec.repos.decisions.add(decision(DecisionKind.OFF_STUDY))
