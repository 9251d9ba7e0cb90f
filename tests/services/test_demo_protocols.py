"""The demo works with whichever protocols are loaded, and says what it could not make."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from clinic_app.core.decisions import DecisionKind
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.services.demo import DemoRefused, generate_demo
from clinic_app.services.dlt_review import dlt_review_view
from clinic_app.storage.database import open_database

TODAY = date(2026, 11, 21)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "protocols"


def _enrolments(record: object) -> dict[str, int]:
    rows = record.sql.execute(  # type: ignore[attr-defined]
        "SELECT protocol, count(*) FROM enrolments GROUP BY protocol"
    ).fetchall()
    return {str(k): int(n) for k, n in rows}


def test_demo_with_dextr_only_makes_dextr_patients_and_says_what_it_skipped(
    tmp_path: Path,
) -> None:
    protocols = {"dextr": load_protocols()["dextr"]}
    with open_database(tmp_path / "demo.sqlite3") as record:
        result = generate_demo(record, patients=12, seed=3, today=TODAY, protocols=protocols)
        assert result.counts == {"dextr": 12}
        assert _enrolments(record) == {"dextr": 12}
        assert any("3+3" in line for line in result.skipped)
        # the maintenance switch is a decision from the phase keys of the file
        for eid, _ in record.sql.execute("SELECT id, 1 FROM enrolments").fetchall():
            for d in record.repos.decisions.for_enrolment(eid, DecisionKind.PHASE):
                assert (d.payload["from"], d.payload["to"]) == ("induction", "maintenance")
        phases = {r[0] for r in record.sql.execute("SELECT DISTINCT phase FROM cycles")}
        assert phases <= {"induction", "maintenance"}


def test_demo_with_bpd_only_stops_at_its_caps_and_says_so(tmp_path: Path) -> None:
    bpd = load_protocols()["bpd"]
    with open_database(tmp_path / "demo.sqlite3") as record:
        result = generate_demo(record, patients=70, seed=1, today=TODAY, protocols={"bpd": bpd})
        assert set(_enrolments(record)) == {"bpd"}
        assert result.patients == result.counts["bpd"] == _enrolments(record)["bpd"]
        assert result.patients <= bpd.caps.total  # 56: never beyond the protocol's cap
        assert any("not made" in line for line in result.skipped)
        # the DLT is attributed to the file's drug (bendamustine), not a literal in the code
        drugs = {
            str(r[0])
            for r in record.sql.execute(
                "SELECT attribution FROM adverse_events WHERE term = 'Febrile neutropenia'"
            )
        }
        assert all("bendamustine" in d for d in drugs)


def test_demo_without_protocols_is_refused(tmp_path: Path) -> None:
    with (
        open_database(tmp_path / "demo.sqlite3") as record,
        pytest.raises(DemoRefused, match="No protocol is loaded"),
    ):
        generate_demo(record, patients=3, today=TODAY, protocols={})


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="the third-regimen fixture is not there yet")
def test_demo_with_a_third_regimen_folder(tmp_path: Path) -> None:
    protocols = load_protocols(FIXTURES)
    with open_database(tmp_path / "demo.sqlite3") as record:
        result = generate_demo(record, patients=10, seed=2, today=TODAY, protocols=protocols)
        assert result.patients == 10
        assert set(_enrolments(record)) <= set(protocols)


def test_demo_doses_keep_their_tablets_and_capsules(tmp_path: Path) -> None:
    # As a real cycle start stores them: BPD's dexamethasone 40 mg is two 20 mg tablets, its
    # pomalidomide one capsule of the dose's strength; the infusion has none.
    with open_database(tmp_path / "demo.sqlite3") as record:
        generate_demo(record, patients=4, seed=1, today=TODAY, protocols=load_protocols())
        rows = record.sql.execute(
            "SELECT d.drug, d.dose_mg, d.units FROM dose_events d JOIN cycles c ON c.id = "
            "d.cycle_id JOIN enrolments e ON e.id = c.enrolment_id WHERE e.protocol = 'bpd'"
        ).fetchall()
    units = {(str(drug), str(mg)): json.loads(u) for drug, mg, u in rows}
    assert units[("dexamethasone", "40")] == {"20": "2"}
    assert all(u for (drug, _), u in units.items() if drug == "pomalidomide")
    assert all(not u for (drug, _), u in units.items() if drug == "bendamustine")


def test_the_demos_dlt_reviews_agree_with_the_rules(tmp_path: Path) -> None:
    # A demo DLT is febrile neutropenia: ANC 0.6 x10^9/L with a fever of 38.7 °C six hours
    # later (rules: ANC < 1.0 with fever >= 38.5 °C within 24 h), so the rules propose what
    # the investigator confirmed; before, the fever was missing and the rules could not decide.
    with open_database(tmp_path / "demo.sqlite3") as record:
        generate_demo(record, patients=40, seed=1, today=TODAY, protocols=load_protocols())
        confirmed = record.sql.execute(
            "SELECT DISTINCT e.patient_id FROM dlt_reviews r JOIN enrolments e ON "
            "e.id = r.enrolment_id WHERE r.confirmed = 1 AND r.voided_at IS NULL"
        ).fetchall()
        assert confirmed
        for (pid,) in confirmed:
            view = dlt_review_view(record, int(pid), TODAY)
            assert view.proposal is not None and view.proposal.dlt is True, view.evidence()
        # Every review stores what the rules proposed on its day: DLT, no DLT, or (an AE with
        # no attribution to the study drugs) could not decide.
        stored = record.sql.execute(
            "SELECT e.patient_id, r.proposed, r.reviewed_on FROM dlt_reviews r JOIN enrolments "
            "e ON e.id = r.enrolment_id WHERE r.voided_at IS NULL"
        ).fetchall()
        proposals = set()
        for pid, proposed, reviewed_on in stored:
            view = dlt_review_view(record, int(pid), date.fromisoformat(reviewed_on))
            assert view.proposal is not None
            assert (None if proposed is None else bool(proposed)) is view.proposal.dlt, pid
            proposals.add(view.proposal.dlt)
        assert proposals == {True, False, None}
