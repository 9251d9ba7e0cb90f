"""The data commands as a person uses them (registered on a parser like clinic_app.cli does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clinic_app.commands import data_commands
from clinic_app.commands.base import CommandError, OneLineParser, common_options


def run(*argv: str) -> int:
    common = common_options()
    parser = OneLineParser(prog="clinic-app", parents=[common])
    data_commands.register(parser.add_subparsers(dest="command"), common)
    args = parser.parse_args(list(argv))
    status: int = args.handler(args)
    return status


def test_demo_then_patient_json_and_unknown_mrn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "r.db")
    assert run("demo", "--db", db, "--patients", "6", "--seed", "4", "--today", "2026-05-04") == 0
    assert "Added 6 demo patients" in capsys.readouterr().out
    assert run("patient", "DEMO-00001", "--db", db, "--today", "2026-05-04", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mrn"] == "DEMO-00001" and data["protocol"] in ("dextr", "bpd")
    assert run("patient", "DEMO-00001", "--db", db, "--today", "2026-05-04") == 0
    assert "MRN DEMO-00001" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no patient with MRN 'NOPE'"):
        run("patient", "NOPE", "--db", db)


def test_export_import_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst, out = str(tmp_path / "s.db"), str(tmp_path / "d.db"), str(tmp_path / "x.json")
    run("demo", "--db", src, "--patients", "3", "--today", "2026-05-04")
    assert run("export", "--db", src, "-o", out) == 0
    assert run("import", out, "--db", dst) == 0
    assert "Imported" in capsys.readouterr().out
    assert run("import", out, "--db", dst) == 1  # not empty any more: refused, one line each
    assert "nothing was changed" in capsys.readouterr().out


def test_every_option_is_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "cli-data.md").read_text("utf-8")
    for heading in ("demo", "export", "import", "patient"):
        assert f"## `clinic-app {heading}" in text
    for option in ("--patients", "--seed", "--today", "--force", "--format", "--json", "-o"):
        assert option in text
