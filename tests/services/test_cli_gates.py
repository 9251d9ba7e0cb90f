"""Command-line arguments meet the same limits as data entry (issue 15, item 3)."""

from __future__ import annotations

import pytest

from clinic_app.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["schedule", "bpd", "--cycle", "1", "--crcl", "-5"], "must be a positive number"),
        (["schedule", "dextr", "--cycle", "1", "--crcl", "900"], "outside the plausible range"),
        (["schedule", "dextr", "--cycle", "1", "--start", "9999-12-31"], "not a possible date"),
        (["schedule", "dextr", "--cycle", "1", "--weight-kg", "1E+999999"], "far too large"),
    ],
)
def test_impossible_arguments_are_refused_in_one_sentence(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exited:  # argparse refuses a bad argument type this way
        code = exited.code
    assert code not in (0, None)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
