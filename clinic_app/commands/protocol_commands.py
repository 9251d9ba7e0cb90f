"""``clinic-app protocols`` and ``clinic-app schedule``: the protocol engine from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from clinic_app.commands.base import CommandError, decimal_arg, iso_date, positive_int
from clinic_app.core.dosing import body_surface_area, check_input
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.ismp import format_number, format_quantity, plain_number
from clinic_app.core.plan import CyclePlan, plan_cycle
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocol
from clinic_app.services.context import load_protocol_files
from clinic_app.services.protocols import load_all


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("protocols", parents=[common], help="list the loaded protocols")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--check",
        nargs="+",
        metavar="FILE",
        type=Path,
        help="check protocol files without loading them into the app",
    )
    p.set_defaults(handler=list_protocols)

    s = sub.add_parser("schedule", parents=[common], help="print one cycle's day-by-day plan")
    s.add_argument("protocol", metavar="PROTOCOL", help="a protocol key (clinic-app protocols)")
    s.add_argument("--cycle", type=positive_int, required=True, metavar="N")
    s.add_argument("--phase", metavar="PHASE", help="e.g. induction, treatment or maintenance")
    s.add_argument("--dose-level", type=int, metavar="L", help="dose level (protocols with levels)")
    s.add_argument("--start", type=iso_date, metavar="YYYY-MM-DD", help="day 1 (default: today)")
    s.add_argument("--height-cm", type=decimal_arg, metavar="H")
    s.add_argument("--weight-kg", type=decimal_arg, metavar="W")
    s.add_argument("--bsa-formula", choices=["mosteller", "dubois"], help="default: the protocol's")
    s.add_argument(
        "--crcl", type=decimal_arg, metavar="ML_MIN", help="creatinine clearance, mL/min"
    )
    s.add_argument("--option", action="append", default=[], metavar="KEY", help="an elected option")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(handler=schedule)


def _protocols() -> dict[str, Protocol]:
    # No record here: the protocol files as installed, the clinic's own folder included.
    try:
        return load_protocol_files()
    except ProtocolError as exc:
        raise CommandError(f"protocol file refused: {exc}") from None


def check_files(files: list[Path]) -> int:
    """``FILE: fine`` per good file, else the file, key and problem; 2 when any is refused."""
    status = 0
    for path in files:
        try:
            load_protocol(path)
        except ProtocolError as exc:
            print(f"{path}: {exc.key}: {exc.problem}")
            status = 2
        else:
            print(f"{path}: fine")
    return status


def list_protocols(args: argparse.Namespace) -> int:
    if args.check:
        return check_files(args.check)
    try:
        protocols = load_all()
    except ProtocolError as exc:
        raise CommandError(f"protocol file refused: {exc}") from None
    if args.json:
        rows = [
            {
                "key": p.key,
                "name": p.name,
                "title": p.title,
                "version": p.version,
                "source_file": str(p.source_file),
                "notes": list(p.notes),
            }
            for p in protocols.values()
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for p in protocols.values():
            print(f"{p.key:<8} {p.name:<8} version {p.version:<6} {p.source_file}")
            print(f"         {p.title}")
            for note in p.notes:
                print(f"         note: {note}")
    # The clinic's files that were left out, each with its file, key and problem.
    for problem in protocols.problems:
        print(f"clinic-app: clinic protocol file refused: {problem}", file=sys.stderr)
    return 2 if protocols.problems else 0


def schedule(args: argparse.Namespace) -> int:
    protocols = _protocols()
    protocol = protocols.get(args.protocol.lower())
    if protocol is None:
        raise CommandError(f"unknown protocol {args.protocol!r}; known: {', '.join(protocols)}")
    if (args.height_cm is None) != (args.weight_kg is None):
        raise CommandError("give both --height-cm and --weight-kg, or neither")
    try:
        bsa = None
        if args.height_cm is not None:
            bsa = body_surface_area(
                args.height_cm, args.weight_kg, args.bsa_formula or protocol.settings.bsa_formula
            )
        if args.crcl is not None:  # the same plausible range as a computed CrCl
            check_input("crcl_ml_min", args.crcl, "Creatinine clearance", "mL/min")
        level = args.dose_level
        if level is None and protocol.dose_levels:
            level = protocol.start_level
        plan = plan_cycle(
            protocol,
            cycle=args.cycle,
            phase=args.phase,
            start=args.start or date.today(),
            dose_level=level,
            bsa=bsa,
            crcl_ml_min=args.crcl,
            options=args.option,
        )
    except DomainError as exc:
        raise CommandError(exc.message) from None
    if args.json:
        print(json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False))
    else:
        print_plan(plan)
    return 0


def plan_to_json(plan: CyclePlan) -> dict[str, Any]:
    """The plan as documented in docs/cli.md; numbers are strings without trailing zeros."""
    return {
        "protocol": plan.protocol_key,
        "protocol_version": plan.protocol_version,
        "cycle": plan.cycle,
        "phase": plan.phase,
        "dose_level": plan.dose_level,
        "start": plan.start.isoformat(),
        "bsa_m2": None if plan.bsa is None else plain_number(plan.bsa.m2),
        "crcl_ml_min": None if plan.crcl_ml_min is None else plain_number(plan.crcl_ml_min),
        "days": [
            {
                "day": day.day,
                "date": day.date.isoformat(),
                "doses": [
                    {
                        "drug": dose.drug,
                        "dose_mg": plain_number(dose.dose_mg),
                        "route": dose.route.value,
                        "units": [
                            {"strength_mg": plain_number(s), "count": n, "form": dose.form.value}
                            for s, n in dose.units
                        ],
                        "in_clinic": dose.in_clinic,
                    }
                    for dose in day.doses
                ],
                "events": [{"kind": e.kind, "label": e.label} for e in day.events],
            }
            for day in plan.days
        ],
        "totals_mg": {drug: plain_number(total) for drug, total in plan.totals_mg.items()},
        "dose_calculations": [
            {
                "drug": note.drug,
                "protocol_dose": plain_number(note.protocol_dose),
                "unit": note.unit,
                "applied_dose": plain_number(note.applied_dose),
                "reasons": list(note.reasons),
                "calculated_mg": None
                if note.rounding is None
                else plain_number(note.rounding.calculated_mg),
                "rounded_mg": None
                if note.rounding is None
                else plain_number(note.rounding.rounded_mg),
                "difference_pct": None
                if note.rounding is None
                else plain_number(note.rounding.difference_pct),
            }
            for note in plan.dose_notes
        ],
        "reminders": [r.text for r in plan.reminders],
    }


def print_plan(plan: CyclePlan) -> None:
    level = f", dose level {plan.dose_level}" if plan.dose_level is not None else ""
    print(
        f"{plan.protocol_name} cycle {plan.cycle}, {plan.phase_name.lower()}{level}, "
        f"starting {plan.start:%a %d %b %Y}"
    )
    if plan.bsa is not None:
        print(plan.bsa.describe())
    for note in plan.dose_notes:
        if note.rounding is not None:
            print(f"{plan.drug_names[note.drug]}: {note.rounding.describe()}")
    print()
    for day in plan.days:
        things = [d.describe() for d in day.doses] + [e.label for e in day.events]
        text = "; ".join(things) if things else "-"
        print(f"Day {day.day:>2}  {day.date:%a %Y-%m-%d}  {text}")
    print()
    print("Totals for the cycle:")
    for drug, total in plan.totals_mg.items():
        units = plan.unit_totals.get(drug, {})
        dispense = ", ".join(
            f"{n} × {format_quantity(s, 'mg')}" for s, n in sorted(units.items(), reverse=True)
        )
        days = len(plan.dosing_days(drug))
        extra = f"; dispense {dispense}" if dispense else ""
        print(f"  {plan.drug_names[drug]}: {format_number(total)} mg over {days} day(s){extra}")
    if plan.reminders:
        print()
        for reminder in plan.reminders:
            print(f"Reminder: {reminder.text}")
