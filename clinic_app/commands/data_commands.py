"""``clinic-app demo``, ``export``, ``import`` and ``patient``: whole-record data commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from clinic_app.commands.base import CommandError, context, db_path, iso_date, positive_int
from clinic_app.commands.user_commands import add_user_option, sign_in
from clinic_app.core.errors import DomainError
from clinic_app.services.context import start_daily_backup
from clinic_app.services.demo import generate_demo
from clinic_app.services.exchange import ImportRefused, export_csv, export_json, import_file
from clinic_app.services.patient_state import PatientSummary, patient_summary
from clinic_app.storage import queries
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import StorageError
from clinic_app.storage.private import create_private_file, make_private, make_private_folder


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    d = sub.add_parser("demo", parents=[common], help="add fictitious demo patients")
    d.add_argument("--patients", type=positive_int, default=40, metavar="N", help="default 40")
    d.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    d.add_argument("--today", type=iso_date, metavar="YYYY-MM-DD", help="default: today")
    d.add_argument(
        "--force", action="store_true", help="add them even if real patients are present"
    )
    add_user_option(d)
    d.set_defaults(handler=demo)

    e = sub.add_parser("export", parents=[common], help="export the whole record")
    e.add_argument("-o", "--output", required=True, metavar="FILE", help="file (JSON) or folder")
    e.add_argument("--format", choices=["json", "csv"], default="json")
    e.set_defaults(handler=export)

    i = sub.add_parser("import", parents=[common], help="import an export into an empty record")
    i.add_argument("file", metavar="FILE", help="a JSON export, or a CSV export folder")
    add_user_option(i)
    i.set_defaults(handler=import_)

    p = sub.add_parser("patient", parents=[common], help="print one patient's computed state")
    p.add_argument("mrn", metavar="MRN")
    p.add_argument("--today", type=iso_date, metavar="YYYY-MM-DD", help="default: today")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=patient)


def _open_read_only(args: argparse.Namespace) -> Record:
    try:
        return open_database(db_path(args), read_only=True)
    except StorageError as exc:
        raise CommandError(exc.message) from None


def demo(args: argparse.Namespace) -> int:
    with context(args, today=args.today) as ctx:
        record = ctx.record
        start_daily_backup(ctx)  # a command that changes the record backs it up first
        sign_in(record, args)
        try:
            result = generate_demo(
                record,
                patients=args.patients,
                seed=args.seed,
                today=ctx.today(),
                force=args.force,
                protocols=ctx.protocols,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        except StorageError as exc:
            raise CommandError(exc.message) from None
    print(
        f"Added {result.describe(ctx.protocols)}; escalation: {result.escalation_decision}; "
        f"in {result.seconds:.1f} s."
    )
    for line in result.skipped:
        print(line)
    return 0


def export(args: argparse.Namespace) -> int:
    target = Path(args.output)
    # No protocols needed: an export must work even when a stored setting is damaged.
    with _open_read_only(args) as record:
        try:
            # Exports hold patient data: created 0600 in a 0700 folder (issue 15, item 6).
            if args.format == "csv":
                make_private_folder(target)
                count = export_csv(record, target)
                for file in target.iterdir():
                    make_private(file)
            else:
                create_private_file(target)
                count = export_json(record, target)
                make_private(target)
        except OSError as exc:
            raise CommandError(f"cannot write {target}: {exc.strerror}") from None
    print(f"Exported {count} rows to {target} ({args.format}).")
    return 0


def import_(args: argparse.Namespace) -> int:
    source = Path(args.file)
    with context(args) as ctx:
        record = ctx.record
        start_daily_backup(ctx)
        sign_in(record, args)
        try:
            result = import_file(record, source)
        except ImportRefused as exc:
            print(f"clinic-app: {source} was not imported; nothing was changed:", flush=True)
            for problem in exc.problems:
                print(f"  {problem}")
            return 1
        except StorageError as exc:
            raise CommandError(exc.message) from None
    print(f"Imported {result.total} rows from {source}.")
    return 0


def patient(args: argparse.Namespace) -> int:
    # The record's own protocols (its threshold settings applied), as the chart reads them.
    with context(args, read_only=True, today=args.today) as ctx:
        pid = queries.patient_id_for_mrn(ctx.record, args.mrn)
        if pid is None:
            raise CommandError(f"no patient with MRN {args.mrn!r} in {ctx.record.location}")
        summary = patient_summary(ctx.record, pid, ctx.today(), ctx.protocols)
    if args.json:
        print(json.dumps(summary_to_json(summary), indent=2, ensure_ascii=False))
    else:
        print_summary(summary)
    return 0


def summary_to_json(s: PatientSummary) -> dict[str, Any]:
    """The summary as documented in docs/cli-data.md (numbers as strings, no trailing zeros)."""
    p = s.patient
    return {
        "mrn": p.mrn,
        "name": p.full_name,
        "date_of_birth": p.date_of_birth.isoformat(),
        "today": s.today.isoformat(),
        "protocol": s.protocol_key,
        "phase": s.phase,
        "status": None if s.status is None else s.status.value,
        "dose_level": s.dose_level,
        "cycle": s.cycle,
        "day": s.day,
        "cycles": [
            {
                "number": c.number,
                "phase": c.phase,
                "status": c.status,
                "planned_start": c.planned_start.isoformat(),
                "start": None if c.start_date is None else c.start_date.isoformat(),
                "end": None if c.end_date is None else c.end_date.isoformat(),
                "delay_days": c.delay_days,
                "dose_level": c.dose_level,
                "doses_given": c.doses_given,
                "doses_held": c.doses_held,
                "doses_planned": c.doses_planned,
                "held": list(c.held),
            }
            for c in s.cycles
        ],
        "worst_lab_grades": [
            {
                "term": w.term,
                "grade": w.grade,
                "lowest_grade": w.lowest_grade,
                "collected_on": w.collected_on.isoformat(),
                "explanation": w.explanation,
            }
            for w in s.worst_lab_grades
        ],
        "adverse_events": [
            {
                "term": a.term,
                "grade": a.grade,
                "onset": a.onset.isoformat(),
                "resolved": None if a.resolved is None else a.resolved.isoformat(),
            }
            for a in s.adverse_events
        ],
        "responses": [
            {
                "assessed_on": r.assessed_on.isoformat(),
                "end_of_cycle": r.end_of_cycle,
                "category": r.category,
                "confirmed": r.confirmed,
                "limited_by": list(r.limited_by),
            }
            for r in s.responses
        ],
        "dlt": None
        if s.dlt is None
        else {
            "dlt": s.dlt.dlt,
            "summary": s.dlt.summary,
            "evaluable": s.dlt.evaluable_for_toxicity,
        },
        "next_step": None
        if s.next_step is None
        else {
            "proposal": s.next_step.proposal.value,
            "after_cycle": s.next_step.cycle_number,
            "reasons": list(s.next_step.reasons),
            "title": s.next_step.title,
            "next_phase": s.next_step.next_phase,
            "options": [
                {"kind": o.kind.value, "key": o.key, "label": o.label} for o in s.next_step.options
            ],
            "missing": list(s.next_step.missing),
        },
        "flags": list(s.flags),
        "missing": list(s.missing),
    }


def print_summary(s: PatientSummary) -> None:
    p = s.patient
    print(f"{p.full_name}, born {p.date_of_birth.isoformat()}, MRN {p.mrn}")
    if s.protocol_key is None:
        print("Not enrolled on a protocol.")
    else:
        where = f"cycle {s.cycle}" + (f" day {s.day}" if s.day is not None else "")
        level = f", dose level {s.dose_level}" if s.dose_level is not None else ""
        status = s.status.value.replace("_", " ") if s.status else "unknown"
        phase = s.phase if s.phase else "no cycle started"
        print(f"{s.protocol_name}: {status}, {phase}, {where}{level} (on {s.today})")
    for c in s.cycles:
        # No end date when the protocol is not loaded: its cycle length is not known.
        end = c.end_date if c.end_date is not None else "an end not known"
        span = f"{c.start_date} to {end}" if c.start_date else f"planned {c.planned_start}"
        delay = f", delayed {c.delay_days} d" if c.delay_days else ""
        print(
            f"  Cycle {c.number} ({c.phase}, {c.status}): {span}{delay}; doses given "
            f"{c.doses_given}, held {c.doses_held}, planned {c.doses_planned}"
        )
        for line in c.held:
            print(f"    {line}")
    if s.worst_lab_grades:
        print("Worst lab grades (CTCAE v5.0):")
        for w in s.worst_lab_grades:
            grade = w.grade if w.grade is not None else f">= {w.lowest_grade}"
            print(f"  {w.term}: grade {grade} on {w.collected_on} ({w.explanation})")
    if s.adverse_events:
        print("Adverse events:")
        for a in s.adverse_events:
            end = f", resolved {a.resolved}" if a.resolved else ", ongoing"
            print(f"  {a.term} grade {a.grade}, onset {a.onset}{end}")
    if s.responses:
        print("Response (IMWG):")
        for r in s.responses:
            closes = f" (end of cycle {r.end_of_cycle})" if r.end_of_cycle else ""
            if r.category == "not evaluable":  # no category, nothing to confirm
                print(f"  {r.assessed_on}{closes}: {r.explanation}")
            else:
                state = "confirmed" if r.confirmed else "unconfirmed"
                print(f"  {r.assessed_on}{closes}: {r.category}, {state}")
            for why in r.limited_by:
                print(f"    limited by: {why}")
    if s.dlt is not None:
        verdict = {True: "yes", False: "no", None: "not yet decided"}[s.dlt.dlt]
        print(f"DLT proposal (cycle 1): {verdict}. {s.dlt.summary}")
    if s.next_step is not None:
        print(
            f"Proposed next step after cycle {s.next_step.cycle_number}: "
            f"{s.next_step.title.lower()}"
        )
        for reason in s.next_step.reasons:
            print(f"  {reason}")
        for option in s.next_step.options:
            print(f"  option: {option.label}")
    for flag in s.flags:
        print(f"Flag: {flag}")
    for item in s.missing:
        print(f"Missing: {item}")
