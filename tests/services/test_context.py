"""One application context (issue 17): the record, its protocols with the record's settings
applied, the user, the clock; the ``patient`` command and the window read the same flags."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app import cli
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.services import settings as clinic_settings
from clinic_app.services.context import AppContext, Clock, open_context, start_daily_backup
from clinic_app.services.patient_state import list_patient_rows
from clinic_app.storage.database import Record, open_database

from .helpers import cycle, enrol, lab, patient, weight

TODAY = date(2024, 3, 20)


def _dextr_patient(record: Record) -> int:
    """DexTR cycle 1 from Mar 4 (lab days 1, 8, 15 = Mar 4, 11, 18), BSA from 70 kg."""
    pid = patient(record, "A-1", "Alvarez")
    eid = enrol(record, pid, "dextr", date(2024, 3, 1))
    basis = weight(record, pid, date(2024, 3, 2), "70")
    cycle(
        record,
        eid,
        1,
        "induction",
        date(2024, 3, 4),
        date(2024, 3, 4),
        bsa_m2=Decimal("1.81"),
        measurement_id=basis,
    )
    weight(record, pid, date(2024, 3, 15), "66.5")  # (66.5 - 70) / 70 = -5 %
    lab(record, pid, "anc", "2.1", "10^9/L", date(2024, 3, 4))
    lab(record, pid, "anc", "1.9", "10^9/L", date(2024, 3, 9))  # 2 days before day 8
    lab(record, pid, "anc", "1.8", "10^9/L", date(2024, 3, 18))
    return pid


def _clinic_thresholds(record: Record) -> None:
    # The clinic flags a 5 % weight change and counts labs older than 1 day as missing.
    clinic_settings.set_value(record, clinic_settings.WEIGHT_CHANGE_PCT, "5", reason="test")
    clinic_settings.set_value(record, clinic_settings.LAB_MAX_AGE_DAYS, "1", reason="test")


def test_the_patient_command_flags_what_the_window_flags_with_the_clinics_thresholds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "record.sqlite3"
    with open_database(path) as record:
        _dextr_patient(record)
        # The protocol files alone (10 %, 3 days): -5 % is no recheck, and the Mar 9 lab
        # covers day 8 (Mar 11 - 3 days = Mar 8 <= Mar 9).
        (by_file,) = list_patient_rows(record, TODAY, load_protocols())
        assert not by_file.bsa_recheck and not by_file.overdue_labs
        _clinic_thresholds(record)
        # What the window lists and the chart shows: the record's own context.
        (shown,) = list_patient_rows(record, TODAY, AppContext.for_record(record).protocols)
    # With 5 %: |-5 %| reaches the threshold -> recheck. With 1 day: day 8 needs a lab from
    # Mar 10 on; Mar 9 is too old -> overdue.
    assert shown.bsa_recheck and shown.overdue_labs
    assert any("day 8 (2024-03-11)" in note for note in shown.notes)

    code = cli.main(["patient", "A-1", "--db", str(path), "--today", "2024-03-20", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["flags"] == list(shown.notes)


def test_open_context_applies_the_records_settings_and_starts_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "record.sqlite3"
    with open_database(path) as record:
        _clinic_thresholds(record)
    with open_context(path, today=TODAY) as ctx:
        assert ctx.protocols["dextr"].settings.weight_change_pct == Decimal("5")
        assert ctx.protocols["bpd"].settings.lab_max_age_days == 1
        assert ctx.today() == TODAY
        assert ctx.user is None  # open mode: nobody signed in
        assert not ctx.signatures.required
        with pytest.raises(TypeError):
            ctx.protocols["x"] = ctx.protocols["dextr"]  # type: ignore[index]
        assert not (tmp_path / "backups").exists()  # opening has no side effect
        start_daily_backup(ctx)  # the command (or the app) starts it
        assert [p.name for p in (tmp_path / "backups").glob("*.sqlite3")] == [
            f"record-daily-{date.today().isoformat()}.sqlite3"
        ]


def test_a_reloaded_context_reads_a_changed_setting(record: Record) -> None:
    ctx = AppContext.for_record(record, Clock.on(TODAY))
    assert ctx.protocols["dextr"].settings.weight_change_pct == Decimal("10")  # the file's
    clinic_settings.set_value(record, clinic_settings.WEIGHT_CHANGE_PCT, "7.5", reason="test")
    again = ctx.reloaded()
    assert again.protocols["dextr"].settings.weight_change_pct == Decimal("7.5")
    assert again.today() == TODAY and again.record is record


def test_a_protocol_the_record_names_but_no_file_loads_is_said(record: Record) -> None:
    ctx = AppContext.for_record(record)
    with pytest.raises(Exception, match="'vrd', which is not loaded"):
        ctx.protocol("vrd")


def test_signatures_are_required_once_the_record_has_accounts(record: Record) -> None:
    ctx = AppContext.for_record(record)
    assert not ctx.signatures.required
    record.repos.users.create_first_administrator("ada", "Dr Ada Byrne", "correct horse 42")
    assert ctx.signatures.required  # read live: the first account was made meanwhile


def test_the_user_is_whoever_signed_in_on_the_record(record: Record) -> None:
    ctx = AppContext.for_record(record)
    record.repos.users.create_first_administrator("ada", "Dr Ada Byrne", "correct horse 42")
    record.repos.users.authenticate("ada", "correct horse 42")
    record.set_user("ada")
    user = ctx.user
    assert user is not None and (user.username, user.full_name) == ("ada", "Dr Ada Byrne")
    record.set_user(None)  # signed out (a lock handing the window over)
    assert ctx.user is None
