"""The trial report PDF, rendered from a record built through the repositories and read back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from clinic_app.cli import main
from clinic_app.core.protocol import Protocol
from clinic_app.reports.models import PrintStamp
from clinic_app.reports.trial_report import write_trial_report
from clinic_app.services.trial import TrialOverview, build_overview
from clinic_app.storage.database import Record
from tests.services.test_trial import Cohort, treated

TODAY = date(2025, 3, 10)


def bpd_overview(record: Record, bpd: Protocol) -> TrialOverview:
    cohort = Cohort(record)
    cohort.many(1, "no", "yes", "no")  # 1 of 3 at level 1: expand to 6
    treated(record, "R1", ["PR", "PR", "PD", "PD"], protocol="bpd")
    treated(record, "R2", ["SD", "SD", "SD"], protocol="bpd", next_therapy=date(2024, 5, 1))
    treated(record, "R3", ["PR", "PR", "PR", "PR"], protocol="bpd")
    treated(record, "R4", ["SD", "PD", "PD"], protocol="bpd")
    treated(record, "R5", ["MR"], protocol="bpd", cycles=1)
    return build_overview(record, bpd, TODAY)


def stamp(overview: TrialOverview) -> PrintStamp:
    return PrintStamp(datetime(2025, 3, 10, 9, 30, tzinfo=UTC), "nurse.k", overview.record_version)


def text_of(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_report_holds_board_rates_curves_and_stamp(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    overview = bpd_overview(record, protocols["bpd"])
    out = tmp_path / "trial.pdf"
    write_trial_report(overview, stamp(overview), out)
    text = text_of(out)
    flat = re.sub(r"\s+", " ", text)
    assert "Trial report · BPD" in flat
    assert "Decision: expand 1 to 6" in flat
    assert "Data as of 10 Mar 2025" in flat
    assert f"record version {overview.record_version}" in flat
    assert "printed 10 Mar 2025 09:30 by nurse.k" in flat
    assert "per protocol" in flat and "PR or better, standard" in flat
    assert "Progression-free survival" in flat
    assert "Duration of response (protocol's TTP)" in flat
    assert "Time to next therapy" in flat
    assert "At risk" in flat
    # the cap inconsistency and the patient left out for fewer than 2 cycles
    assert "62" in flat and "56" in flat
    assert "fewer than 2 cycles (1 completed)" in flat
    # PFS of R1..R4 as in tests/services/test_trial.py: median 84 days
    assert "median 84 days" in flat
    # the upper band never falls to 0.5: said in words, the unit after the number
    assert "median 84 days (95 % CI 56 days to not reached, log-log)" in flat
    assert "to not reached days" not in flat


def test_report_says_a_median_not_reached_plainly(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    # One patient in PR at every assessment: no progression, PFS censored, so neither the
    # estimate nor its bands fall to 0.5.
    treated(record, "R3", ["PR", "PR", "PR", "PR"], protocol="bpd")
    overview = build_overview(record, protocols["bpd"], TODAY)
    out = tmp_path / "censored.pdf"
    write_trial_report(overview, stamp(overview), out)
    flat = re.sub(r"\s+", " ", text_of(out))
    assert "median not reached; 95 % CI not estimable" in flat
    assert "not reached to not reached" not in flat


def test_report_without_patients_says_so(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    overview = build_overview(record, protocols["bpd"], TODAY)
    out = tmp_path / "empty.pdf"
    write_trial_report(overview, stamp(overview), out)
    flat = re.sub(r"\s+", " ", text_of(out))
    assert "no patient is evaluable for efficacy yet" in flat
    assert "No patient has data for this endpoint yet." in flat
    assert "After cycle 2" not in flat  # no patient row, so no table header


def test_report_of_a_protocol_without_endpoints_says_so(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    # dextr.toml has no [endpoints]: no rates and no curves, never BPD's definitions.
    overview = build_overview(record, protocols["dextr"], TODAY)
    out = tmp_path / "dextr.pdf"
    write_trial_report(overview, stamp(overview), out)
    flat = re.sub(r"\s+", " ", text_of(out))
    assert flat.count("This protocol defines no endpoints") == 2  # rates and time to event
    assert "overall response rate" not in flat
    assert "No patient has data for this endpoint yet." not in flat
    assert "3+3 escalation" not in flat  # DexTR does not escalate


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_report_renders_to_images(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    overview = bpd_overview(record, protocols["bpd"])
    out = tmp_path / "trial.pdf"
    write_trial_report(overview, stamp(overview), out)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(out), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == len(PdfReader(out).pages) >= 2


# -- the commands ----------------------------------------------------------------------------------
def test_escalation_and_trial_report_commands(
    record: Record,
    protocols: dict[str, Protocol],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bpd_overview(record, protocols["bpd"])
    db = str(record.path)
    assert main(["escalation", "--json", "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decision"] == "expand 1 to 6" and data["allowed_levels"] == [1]
    assert main(["escalation", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Decision: expand 1 to 6" in out and "Pat Family2 (MRN B-002)" in out
    pdf = tmp_path / "out.pdf"
    assert main(["trial-report", "bpd", "-o", str(pdf), "--as-of", "2025-03-10", "--db", db]) == 0
    assert "Data as of 10 Mar 2025" in text_of(pdf)
    # The record's paper size, as every printout (US Letter: 8.5 x 11 in = 612 x 792 pt).
    record.repos.settings.set("print.paper_size", "Letter", reason="test")
    assert main(["trial-report", "bpd", "-o", str(pdf), "--as-of", "2025-03-10", "--db", db]) == 0
    box = PdfReader(pdf).pages[0].mediabox
    assert sorted((round(float(box.width)), round(float(box.height)))) == [612, 792]


def test_commands_refuse_mistakes_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "none.sqlite3")
    assert main(["escalation", "--db", missing]) == 2
    assert "there is no record at" in capsys.readouterr().err
    assert main(["escalation", "--protocol", "dextr", "--db", missing]) == 2
    assert "has no dose escalation" in capsys.readouterr().err
    assert main(["trial-report", "nope", "-o", str(tmp_path / "x.pdf"), "--db", missing]) == 2
    assert "unknown protocol 'nope'" in capsys.readouterr().err


def test_level_table_says_its_dlt_counts_are_the_3_3_cohorts(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    # 0/3 at levels 1-3, then 1 of 6 at level 4: MTD not reached; one expansion patient at
    # level 4 with a confirmed DLT. The level row reads 1 / 5 / 0 (the 3+3 cohort) while the
    # list shows two "confirmed yes" at level 4: the report must say whose counts these are.
    cohort = Cohort(record)
    for level in (1, 2, 3):
        cohort.many(level, "no", "no", "no")
    cohort.many(4, "yes", "no", "no", "no", "no", "no")
    cohort.add(4, "yes")  # expansion
    overview = build_overview(record, protocols["bpd"], TODAY)
    assert overview.board is not None
    row4 = overview.board.levels[-1].row
    assert (row4.treated, row4.expansion, row4.dlt_yes, row4.dlt_no) == (7, 1, 1, 5)
    out = tmp_path / "trial.pdf"
    write_trial_report(overview, stamp(overview), out)
    flat = re.sub(r"\s+", " ", text_of(out))
    assert "7 (1 expansion)" in flat and "1 / 5 / 0" in flat
    assert "DLT yes / no / pending (3+3 cohort)" in flat
    assert "The DLT counts are the 3+3 cohort's" in flat


def test_mrns_print_whole_in_every_table(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    # An identifier cut over two lines ("DEMO-00 014") is an identifier misread. A 10-character
    # MRN like the demo's, one cycle: its MRN is in the best-response table, the not-evaluable
    # table and the duration-of-response "not included" line (the family name "Fam-DEMO-00014"
    # is not counted).
    treated(record, "DEMO-00014", ["MR"], protocol="bpd", cycles=1)
    overview = build_overview(record, protocols["bpd"], TODAY)
    out = tmp_path / "trial.pdf"
    write_trial_report(overview, stamp(overview), out)
    flat = re.sub(r"\s+", " ", text_of(out))
    assert len(re.findall(r"(?<!Fam-)DEMO-00014", flat)) == 3, flat


def test_every_page_says_page_n_of_m(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    overview = bpd_overview(record, protocols["bpd"])
    out = tmp_path / "trial.pdf"
    write_trial_report(overview, stamp(overview), out)
    pages = PdfReader(out).pages
    total = len(pages)
    assert total >= 2
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {total}" in page.extract_text()


def test_trial_report_as_of_uses_only_what_was_known_then(
    record: Record,
    protocols: dict[str, Protocol],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Cohort: enrolled and reviewed 2024-01-02 (no), 01-03 (yes), 01-04 (no): now "expand 1 to 6".
    cohort = Cohort(record)
    cohort.many(1, "no", "yes", "no")
    db = str(record.path)
    pdf = tmp_path / "early.pdf"
    # On 2024-01-02 only the first patient was enrolled (confirmed no): 1 of 3 treated, so the
    # 3+3 cohort at level 1 is not full and the DLT counts read 0 / 1 / 0.
    assert main(["trial-report", "bpd", "-o", str(pdf), "--as-of", "2024-01-02", "--db", db]) == 0
    capsys.readouterr()
    flat = re.sub(r"\s+", " ", text_of(pdf))
    assert "Data as of 2 Jan 2024" in flat
    assert "expand 1 to 6" not in flat
    assert "0 / 1 / 0" in flat
    assert "Pat Family2" not in flat and "Pat Family1" in flat
    # total enrolled against the cap of 56: 1 then, 3 now
    assert "1 of 56" in flat
    now = tmp_path / "now.pdf"
    assert main(["trial-report", "bpd", "-o", str(now), "--as-of", "2025-03-10", "--db", db]) == 0
    flat_now = re.sub(r"\s+", " ", text_of(now))
    assert "expand 1 to 6" in flat_now and "3 of 56" in flat_now


def test_undated_entries_are_named_in_the_report(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    # R1's cycles are all marked completed; on 2024-02-27 (day 57) cycle 3 has started (day 56)
    # but no later cycle, end-of-cycle assessment or off-study date dates its completion.
    treated(record, "R1", ["PR", "PR", "PD", "PD"], protocol="bpd")
    overview = build_overview(record, protocols["bpd"], date(2024, 2, 27))
    out = tmp_path / "trial.pdf"
    write_trial_report(overview, stamp(overview), out)
    flat = re.sub(r"\s+", " ", text_of(out))
    assert "No date to filter by" in flat
    assert "cycle 3 is marked completed" in flat


def test_response_table_cuts_no_word_and_writes_dates_in_words(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    # Demo record: "Begoña Ferná" / "ndez-García", "PR (unconfir" / "med)", the header
    # "Cycle" / "s", and the note "progression on 2026-10-07" beside dates written "7 Oct 2026".
    from dataclasses import replace

    from clinic_app.core.records import OffStudyReason

    pid = treated(
        record,
        "DEMO-00017",
        ["PR", "PD"],
        protocol="bpd",
        off=(date(2024, 3, 1), OffStudyReason.PROGRESSION),
    )
    stored = record.repos.patients.get(pid)
    renamed = replace(stored.value, family_name="Fernández-García", given_name="Begoña")
    record.repos.patients.update(pid, renamed, expected_version=stored.version, reason="test")
    treated(record, "DEMO-00012", ["PR"], protocol="bpd", cycles=2)  # PR seen once
    overview = build_overview(record, protocols["bpd"], TODAY)
    out = tmp_path / "trial.pdf"
    write_trial_report(overview, stamp(overview), out)
    text = text_of(out)
    lines = [line.strip() for line in text.splitlines()]
    for whole in ("Fernández-García", "PD (unconfirmed)", "Fam-DEMO-00012", "Cycles"):
        assert whole in lines, (whole, lines)
    flat = re.sub(r"\s+", " ", text)
    assert "progression on 26 Feb 2024 (PD once, off study for progression)" in flat, flat
    assert not re.search(r"\d{4}-\d{2}-\d{2}", flat), re.findall(r"\d{4}-\d{2}-\d{2}", flat)


def test_time_to_event_heading_never_ends_a_page_alone(
    record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    # Demo record: page 3 of 5 ended with "Time to event (Kaplan-Meier)", its first curve on
    # the next page. However many patients push it down, the heading prints with the curve.
    from clinic_app.reports.trial_report import KAPLAN_MEIER, render_trial_report

    for n in range(24):
        treated(record, f"P{n:02d}", ["PR", "PR"], protocol="bpd")
        if n < 8:
            continue
        overview = build_overview(record, protocols["bpd"], TODAY)
        pages = [
            p.extract_text()
            for p in PdfReader(BytesIO(render_trial_report(overview, stamp(overview)))).pages
        ]
        page = next(p for p in pages if KAPLAN_MEIER in p)
        assert "Progression-free survival" in page, (n, page)
