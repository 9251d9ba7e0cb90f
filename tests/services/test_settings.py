"""services.settings: the registry, validation, audited record settings, the config file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.core.errors import DomainError, MissingDataError
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.services import documents, lab_entry
from clinic_app.services import settings as st
from clinic_app.storage.backup import backup_folder
from clinic_app.storage.database import Record, open_database


def audit_reasons(record: Record) -> list[str]:
    rows = record.sql.execute(
        "SELECT reason FROM audit_log WHERE table_name = 'settings' ORDER BY id"
    ).fetchall()
    return [r[0] for r in rows]


# -- the registry ----
def test_registry_has_every_setting_the_issue_names_once() -> None:
    keys = [s.key for s in st.SETTINGS]
    assert len(keys) == len(set(keys))
    assert set(keys) == {
        "clinic.name",
        "clinic.phone",
        "print.paper_size",
        "lab_reference_ranges",
        "dosing.weight_change_pct",
        "labs.max_age_days",
        "backup.folder",
        "backup.keep",
        "data.folder",
        "data.server",  # issue 18: the clinic's shared record
        "security.idle_lock_minutes",  # issue 10: lock after idle time
        "security.accounts_required",  # issue 15: no clinical data before the first account
        "protocols.clinic_folder",  # issue 17: the clinic's own protocol files
    }
    # The data folder is kept off the record (the record cannot say where it lives), and so is
    # the backup folder (an imported file or a restored backup must not choose it; issue 15).
    assert [s.key for s in st.SETTINGS if not s.clinical] == [
        "backup.folder",
        "protocols.clinic_folder",
        "data.folder",
        "data.server",
    ]


def test_registry_keys_are_the_keys_the_readers_use() -> None:
    from clinic_app.gui import lock
    from clinic_app.storage import backup

    assert st.IDLE_LOCK_MINUTES == lock.IDLE_SETTING
    assert st.CLINIC_PHONE == documents.CLINIC_PHONE
    assert st.CLINIC_NAME == documents.CLINIC_NAME
    assert st.PAPER_SIZE == documents.PAPER_SIZE
    assert st.BACKUP_FOLDER == backup.FOLDER_SETTING
    assert st.BACKUP_KEEP == backup.KEEP_SETTING
    assert st.REFERENCE_RANGES == lab_entry.SETTING_KEY


def test_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(DomainError, match=r"no setting 'clinic.fax'.*clinic\.phone"):
        st.spec("clinic.fax")


# -- validation as typed ----
@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("14", 14), ("3650", 3650), (" 7 ", 7)],
)
def test_backup_keep_accepts_whole_numbers_1_to_3650(text: str, expected: int) -> None:
    assert st.parse("backup.keep", text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "at least 1"),  # just below the minimum
        ("3651", "at most 3,650"),  # just above the maximum
        ("2.5", "whole number"),
        ("ten", "must be a number"),
        ("nan", "must be a number"),
    ],
)
def test_backup_keep_refusals_say_what_to_type(text: str, message: str) -> None:
    with pytest.raises(DomainError, match=message) as caught:
        st.parse("backup.keep", text)
    assert caught.value.field == "backup.keep"


# Sanity bounds 0.1 .. 50 %: at each edge accepted, just outside refused.
@pytest.mark.parametrize(
    ("text", "ok"),
    [("0.1", True), ("0.09", False), ("50", True), ("50.01", False), ("10", True), ("7.50", True)],
)
def test_weight_change_bounds(text: str, ok: bool) -> None:
    if ok:
        assert Decimal(str(st.parse("dosing.weight_change_pct", text))) == Decimal(text)
    else:
        with pytest.raises(DomainError):
            st.parse("dosing.weight_change_pct", text)


@pytest.mark.parametrize(
    ("text", "ok"), [("0", True), ("-1", False), ("30", True), ("31", False), ("3", True)]
)
def test_lab_age_bounds(text: str, ok: bool) -> None:
    if ok:
        assert st.parse("labs.max_age_days", text) == int(text)
    else:
        with pytest.raises(DomainError):
            st.parse("labs.max_age_days", text)


@pytest.mark.parametrize("phone", ["+44 20 7946 0000", "(020) 7946-0000", "123"])
def test_phone_numbers_people_dial(phone: str) -> None:
    assert st.parse("clinic.phone", phone) == phone


@pytest.mark.parametrize("phone", ["", "12", "call Anna", "555-CLINIC"])
def test_phone_refused_when_not_a_number(phone: str) -> None:
    with pytest.raises(DomainError, match="digits"):
        st.parse("clinic.phone", phone)


def test_paper_size_is_a4_or_letter_in_any_case() -> None:
    assert st.parse("print.paper_size", "a4") == "A4"
    assert st.parse("print.paper_size", "LETTER") == "Letter"
    with pytest.raises(DomainError, match="A4, Letter"):
        st.parse("print.paper_size", "A5")


def test_folders_must_be_full_paths(tmp_path: Path) -> None:
    assert st.parse("backup.folder", str(tmp_path / "new")) == str(tmp_path / "new")
    with pytest.raises(DomainError, match="full path"):
        st.parse("backup.folder", "backups")
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    with pytest.raises(DomainError, match="is a file"):
        st.parse("backup.folder", str(a_file))


# -- record settings: stored, audited, read back by the code that uses them ----
def test_phone_set_here_is_the_phone_the_card_prints(record: Record) -> None:
    with pytest.raises(MissingDataError):
        documents.clinic(record)
    st.set_value(record, "clinic.phone", "+44 20 7946 0000", reason="new switchboard")
    st.set_value(record, "clinic.name", "Ward 7 Haematology", reason="new switchboard")
    clinic = documents.clinic(record)
    assert (clinic.name, clinic.phone) == ("Ward 7 Haematology", "+44 20 7946 0000")
    assert audit_reasons(record) == ["new switchboard", "new switchboard"]


def test_change_without_reason_is_refused_and_nothing_stored(record: Record) -> None:
    with pytest.raises(DomainError, match="reason"):
        st.set_value(record, "backup.keep", "30", reason="  ")
    assert st.stored(record, "backup.keep") is None
    assert st.value(record, "backup.keep") == 14  # storage.backup.DEFAULT_KEEP


def test_invalid_value_changes_nothing(record: Record) -> None:
    st.set_value(record, "print.paper_size", "Letter", reason="US paper")
    with pytest.raises(DomainError):
        st.set_value(record, "print.paper_size", "A3", reason="try")
    assert documents.paper_size(record).value == "Letter"
    assert audit_reasons(record) == ["US paper"]


@pytest.mark.sqlite_only
def test_backup_folder_setting_moves_backups(
    record: Record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config" / "settings.json"
    monkeypatch.setenv("CLINIC_APP_CONFIG", str(config))
    assert backup_folder(record) == record.path.parent / "backups"
    st.set_machine_value("backup.folder", str(tmp_path / "usb"), config)
    assert backup_folder(record) == tmp_path / "usb"


def test_display_says_when_the_default_applies(record: Record) -> None:
    assert st.display(record, "clinic.phone") == (
        "(default: none: cards are refused until it is set)"
    )
    st.set_value(record, "clinic.phone", "0123 456", reason="r")
    assert st.display(record, "clinic.phone") == "0123 456"


# -- lab reference ranges ----
def test_reference_range_set_per_test_and_unit(record: Record) -> None:
    before = lab_entry.reference_ranges(record).get("anc", "10^9/L")
    assert (before.lln, before.uln) == (Decimal("1.8"), Decimal("7.5"))  # the bundled default
    st.set_value(record, "lab_reference_ranges.anc.10^9/L", "2.0,7.8", reason="our lab")
    after = lab_entry.reference_ranges(record).get("anc", "10^9/L")
    assert (after.lln, after.uln) == (Decimal("2.0"), Decimal("7.8"))
    lines = st.reference_range_lines(record)
    assert "anc 10^9/L: LLN 2, ULN 7.8 (this clinic)" in lines
    assert "anc 10^3/uL: LLN 1.8, ULN 7.5" in lines
    assert audit_reasons(record) == ["our lab"]


def test_reference_range_with_one_side_only(record: Record) -> None:
    st.set_value(record, "lab_reference_ranges.alt.U/L", ",40", reason="our lab")
    limits = lab_entry.reference_ranges(record).get("alt", "U/L")
    assert (limits.lln, limits.uln) == (None, Decimal(40))


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("lab_reference_ranges.anc.10^9/L", "7.5,1.8", "below the ULN"),
        ("lab_reference_ranges.anc.10^9/L", "1.8,1.8", "below the ULN"),  # equal: refused
        ("lab_reference_ranges.anc.10^9/L", "1.8", "LLN,ULN"),
        ("lab_reference_ranges.anc.10^9/L", ",", "at least one"),
        ("lab_reference_ranges.anc.10^9/L", "-1,2", "0 or more"),
        ("lab_reference_ranges.anc.g/L", "1,2", "not reported in 'g/L'"),
        ("lab_reference_ranges.neutrophils.10^9/L", "1,2", "no lab test"),
        ("lab_reference_ranges", "1,2", "one test and unit at a time"),
    ],
)
def test_reference_range_refusals(record: Record, key: str, text: str, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        st.set_value(record, key, text, reason="r")
    assert st.stored(record, "lab_reference_ranges") is None


# -- thresholds carried by the protocols ----
def test_thresholds_default_to_each_protocol_file(record: Record) -> None:
    protocols = load_protocols()
    effective = st.with_record_thresholds(record, protocols)
    for key, protocol in protocols.items():
        # rules §2 defaults, as written in both protocol files
        assert effective[key].settings.weight_change_pct == Decimal(10)
        assert effective[key].settings.lab_max_age_days == 3
        assert effective[key] is protocol


def test_record_thresholds_replace_the_protocol_defaults(record: Record) -> None:
    st.set_value(record, "dosing.weight_change_pct", "7.5", reason="local policy")
    st.set_value(record, "labs.max_age_days", "2", reason="local policy")
    effective = st.with_record_thresholds(record, load_protocols())
    for protocol in effective.values():
        assert protocol.settings.weight_change_pct == Decimal("7.5")
        assert protocol.settings.lab_max_age_days == 2
        assert protocol.settings.bsa_formula == "mosteller"  # untouched


# -- the machine-local config file ----
def test_data_folder_lives_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "cfg" / "settings.json"
    default = st.data_folder(config)
    assert st.display(None, "data.folder", config=config).startswith("(default:")
    st.set_machine_value("data.folder", str(tmp_path / "data"), config)
    assert st.data_folder(config) == tmp_path / "data"
    assert json.loads(config.read_text()) == {"data.folder": str(tmp_path / "data")}
    st.set_machine_value("data.folder", "", config)  # empty: back to the default
    assert st.data_folder(config) == default


def test_record_setting_is_refused_in_the_config_file(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match="kept in the record"):
        st.set_machine_value("clinic.phone", "123", tmp_path / "s.json")


def test_damaged_config_file_is_reported_not_ignored(tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    config.write_text("{not json")
    with pytest.raises(DomainError, match="damaged"):
        st.data_folder(config)


def test_config_path_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINIC_APP_CONFIG", str(tmp_path / "x.json"))
    assert st.config_path() == tmp_path / "x.json"


# -- the command line ----------------------------------------------------------------------------
def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from clinic_app.cli import main

    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_set_get_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINIC_APP_CONFIG", str(tmp_path / "cfg.json"))
    db = str(tmp_path / "r.sqlite3")
    status, out, _ = run_cli(
        capsys, "settings", "set", "clinic.phone", "0123 456", "--db", db, "--reason", "new number"
    )
    assert status == 0 and "audited: new number" in out
    assert run_cli(capsys, "settings", "get", "clinic.phone", "--db", db)[1] == "0123 456\n"
    status, out, _ = run_cli(capsys, "settings", "list", "--db", db)
    assert status == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == set(st.BY_KEY)
    assert "0123 456" in lines["clinic.phone"]
    assert "(default: 14)" in lines["backup.keep"]
    with open_database(db) as rec:
        assert audit_reasons(rec) == ["new number"]


def test_cli_refusal_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.sqlite3")
    status, out, err = run_cli(capsys, "settings", "set", "backup.keep", "0", "--db", db)
    assert status == 2 and out == ""
    assert err == "clinic-app: Daily backups to keep must be at least 1 (you typed 0).\n"


def test_cli_data_folder_goes_to_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINIC_APP_CONFIG", str(tmp_path / "cfg.json"))
    status, out, _ = run_cli(capsys, "settings", "set", "data.folder", str(tmp_path / "d"))
    assert status == 0 and str(tmp_path / "cfg.json") in out
    assert run_cli(capsys, "settings", "get", "data.folder")[1] == f"{tmp_path / 'd'}\n"


def test_cli_reference_ranges_listed_per_test_and_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "r.sqlite3")
    run_cli(
        capsys, "settings", "set", "lab_reference_ranges.platelets.10^9/L", "140,400", "--db", db
    )
    out = run_cli(capsys, "settings", "get", "lab_reference_ranges", "--db", db)[1]
    assert "platelets 10^9/L: LLN 140, ULN 400 (this clinic)\n" in out
    assert "platelets 10^3/uL: LLN 150, ULN 400\n" in out


def test_the_clinic_server_is_kept_without_its_password(tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    assert st.set_machine_value(st.DATA_SERVER, " service=clinic ", config) == "service=clinic"
    assert st.machine_values(config)[st.DATA_SERVER] == "service=clinic"
    with pytest.raises(DomainError, match="password is never kept"):
        st.set_machine_value(st.DATA_SERVER, "postgresql://nurse:secret@db/clinic", config)
    with pytest.raises(DomainError, match="not a server address"):
        st.set_machine_value(st.DATA_SERVER, "/home/nurse/record.sqlite3", config)
    with pytest.raises(DomainError, match="password is never kept") as said:
        st.set_machine_value(st.DATA_SERVER, "host=db password=Secret1 dbname=c", config)
    assert "Secret1" not in str(said.value)
    assert st.machine_values(config)[st.DATA_SERVER] == "service=clinic"  # unchanged
    assert st.set_machine_value(st.DATA_SERVER, "", config) is None  # back to the file
    assert st.DATA_SERVER not in st.machine_values(config)
