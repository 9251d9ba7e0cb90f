"""The ``clinic-app`` command as a person uses it: real processes, real output, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clinic_app import __version__
from clinic_app.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clinic_app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"clinic-app {__version__}"


def test_help_lists_the_subcommands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("protocols", "schedule"):
        assert command in result.stdout


def test_without_a_display_one_clear_sentence_and_status_2() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    result = run(env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no graphical display" in lines[0] and "headless subcommands still work" in lines[0]
    assert "Aborted" not in result.stderr and "qt.qpa" not in result.stderr


def test_protocols_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["key"] for r in rows} == {"dextr", "bpd"}
    bpd = next(r for r in rows if r["key"] == "bpd")
    assert bpd["version"] == "1.0" and bpd["source_file"].endswith("bpd.toml")
    assert any("56" in note for note in bpd["notes"])


def test_protocols_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    assert "dextr" in out and "DexTR" in out and "dextr.toml" in out


def test_schedule_json_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "dextr", "--cycle", "1", "--start", "2026-01-05", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["protocol"], plan["cycle"], plan["phase"]) == ("dextr", 1, "induction")
    assert plan["totals_mg"] == {
        "dexamethasone": "480",
        "thalidomide": "2450",
        "lenalidomide": "525",
    }
    assert len(plan["days"]) == 28
    day8 = plan["days"][7]
    assert day8["day"] == 8 and day8["date"] == "2026-01-12"
    thal = next(d for d in day8["doses"] if d["drug"] == "thalidomide")
    assert thal == {
        "drug": "thalidomide",
        "dose_mg": "100",
        "route": "PO",
        "units": [{"strength_mg": "100", "count": 1, "form": "capsule"}],
        "in_clinic": False,
    }


def test_schedule_bpd_with_bsa(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "schedule",
            "bpd",
            "--cycle",
            "1",
            "--dose-level",
            "1",
            "--start",
            "2026-01-05",
            "--height-cm",
            "170",
            "--weight-kg",
            "70",
            "--json",
        ]
    )
    assert code == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["totals_mg"] == {
        "bendamustine": "220",
        "pomalidomide": "63",
        "dexamethasone": "160",
    }
    assert plan["bsa_m2"] == "1.82"
    benda = next(c for c in plan["dose_calculations"] if c["drug"] == "bendamustine")
    assert (benda["calculated_mg"], benda["rounded_mg"], benda["difference_pct"]) == (
        "218.4",
        "220",
        "0.7",
    )


def test_schedule_lenalidomide_2_5_as_string(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "schedule",
                "dextr",
                "--cycle",
                "6",
                "--phase",
                "maintenance",
                "--crcl",
                "30",
                "--json",
            ]
        )
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert plan["totals_mg"]["lenalidomide"] == "315"  # 15 mg x 21 (CrCl 30 < 40)


def test_schedule_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "dextr", "--cycle", "1", "--start", "2026-01-05"]) == 0
    out = capsys.readouterr().out
    assert "Day  1  Mon 2026-01-05" in out
    assert "Thalidomide: 2,450 mg over 28 day(s)" in out
    assert "Reminder:" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["schedule", "dextr", "--cycle", "0"], "--cycle: 0 must be 1 or more"),
        (["schedule", "dextr", "--cycle", "x"], "is not a whole number"),
        (["schedule", "nope", "--cycle", "1"], "unknown protocol 'nope'"),
        (
            [
                "schedule",
                "bpd",
                "--cycle",
                "1",
                "--dose-level",
                "9",
                "--height-cm",
                "170",
                "--weight-kg",
                "70",
            ],
            "no dose level 9",
        ),
        (
            ["schedule", "bpd", "--cycle", "1", "--height-cm", "170"],
            "give both --height-cm and --weight-kg",
        ),
        (
            ["schedule", "bpd", "--cycle", "1", "--height-cm", "-170", "--weight-kg", "70"],
            "positive",
        ),
        (["schedule", "dextr", "--cycle", "1", "--start", "2026-02-30"], "not a date"),
        (["schedule", "dextr"], "required: --cycle"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_one_line_status_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert result.stdout == ""


def test_every_subcommand_is_documented() -> None:
    docs = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("cli*.md"))
    parser = build_parser()
    subactions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    names = sorted(subactions[0].choices)  # type: ignore[attr-defined]
    assert names, "no subcommands registered"
    for name in names:
        assert re.search(rf"^#+ .*`clinic-app {re.escape(name)}\b", docs, re.M), (
            f"{name} is undocumented"
        )
        sub = subactions[0].choices[name]  # type: ignore[attr-defined]
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option not in ("--help",):
                    assert option in docs, f"{name} {option} is undocumented"


def test_a_command_that_changes_the_record_starts_the_daily_backup_one_that_reads_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Opening a record backs nothing up (issue 17): the commands start the daily backup."""
    from datetime import date

    path = tmp_path / "record.sqlite3"
    backups = tmp_path / "backups"
    today = f"record-daily-{date.today().isoformat()}.sqlite3"
    assert main(["demo", "--patients", "1", "--db", str(path)]) == 0
    assert [p.name for p in backups.glob("*.sqlite3")] == [today]
    for made in list(backups.iterdir()):
        made.unlink()  # the copy and its manifest
    capsys.readouterr()
    assert main(["check", "--db", str(path)]) == 0
    assert main(["export", "-o", str(tmp_path / "out.json"), "--db", str(path)]) == 0
    assert list(backups.iterdir()) == []  # reading the record started no backup
