"""``clinic-app escalation`` and ``clinic-app trial-report``: the trial board from the shell.

Both read the record only. Enrolment is not here: ``clinic-app enrol`` goes through the
enrolment service, which refuses any dose level the 3+3 engine does not allow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clinic_app.commands.base import context, existing_record, fail, iso_date
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.protocol import Protocol
from clinic_app.services.context import load_protocol_files
from clinic_app.storage.errors import StorageError


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    esc = subparsers.add_parser(
        "escalation",
        parents=[common],
        help="print the 3+3 escalation board: decision, reason, levels and patients",
    )
    esc.add_argument(
        "--protocol",
        metavar="PROTOCOL",
        help="the protocol with an escalation design (default: the only one)",
    )
    esc.add_argument("--json", action="store_true", help="print JSON for scripts")
    esc.set_defaults(handler=run_escalation)

    report = subparsers.add_parser(
        "trial-report",
        parents=[common],
        help="write the trial report PDF: board, enrolment and the endpoints the protocol defines",
    )
    report.add_argument(
        "protocol", metavar="PROTOCOL", help="protocol key (clinic-app protocols lists them)"
    )
    report.add_argument(
        "-o", "--output", metavar="FILE.pdf", required=True, help="where to write the PDF"
    )
    report.add_argument(
        "--as-of",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="show the trial as the record knew it on this date (default: today)",
    )
    report.set_defaults(handler=run_trial_report)


def _installed() -> dict[str, Protocol]:
    try:
        return load_protocol_files()
    except ProtocolError as exc:
        fail(f"protocol file refused: {exc}")


def _escalating(protocols: dict[str, Protocol], key: str | None) -> Protocol:
    # A protocol escalates when its file gives an [escalation] design (never assumed).
    with_levels = [p for p in protocols.values() if p.escalation is not None]
    if key is not None:
        protocol = protocols.get(key)
        if protocol is None:
            fail(f"unknown protocol {key!r}; known: {', '.join(sorted(protocols))}")
        if protocol.escalation is None:
            fail(f"{protocol.name} has no dose escalation, so it has no escalation board")
        return protocol
    if len(with_levels) != 1:
        names = ", ".join(p.key for p in with_levels) or "none"
        fail(f"choose the protocol with --protocol (protocols with dose escalation: {names})")
    return with_levels[0]


def board_lines(board: Any) -> list[str]:
    """The board as plain text lines."""
    lines = [
        f"{board.protocol_name} 3+3 escalation",
        f"Decision: {board.decision_text}",
        f"Reason: {board.reason}",
        board.next_patient,
    ]
    if board.cap_note:
        lines.append(f"Note: {board.cap_note}")
    for level in board.levels:
        r = level.row
        state = r.state.value + (f" ({level.closed_reason})" if level.closed_reason else "")
        lines.append("")
        lines.append(f"Level {level.level}: {level.doses}")
        lines.append(
            f"  {state}; treated {r.treated}, DLT yes {r.dlt_yes} / no {r.dlt_no} / pending "
            f"{r.dlt_pending}, not evaluable {r.not_evaluable}, expansion {r.expansion}"
        )
        for p in level.patients:
            lines.append(
                f"  - {p.full_name} (MRN {p.mrn}), enrolled {p.enrolled_on.isoformat()}: "
                f"{p.status_text}"
            )
    return lines


def run_escalation(args: argparse.Namespace) -> int:
    from clinic_app.services.trial import build_escalation_board

    _escalating(_installed(), args.protocol)  # a mistaken protocol is said first
    existing_record(args)
    try:
        # The record's protocols (its settings applied), as the trial board shows them.
        with context(args, read_only=True) as ctx:
            protocol = _escalating(dict(ctx.protocols), args.protocol)
            board = build_escalation_board(ctx.record, protocol)
    except StorageError as exc:
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(board.to_json(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(board_lines(board)))
    return 0 if board.decision is not None else 1


def run_trial_report(args: argparse.Namespace) -> int:
    from clinic_app.reports.trial_report import write_trial_report
    from clinic_app.services import documents
    from clinic_app.services.trial import build_overview

    installed = _installed()
    if args.protocol not in installed:  # said first, before the record is looked for
        fail(f"unknown protocol {args.protocol!r}; known: {', '.join(sorted(installed))}")
    output = Path(args.output)
    if not output.parent.is_dir():
        fail(f"the folder {output.parent} does not exist")
    existing_record(args)
    try:
        with context(args, read_only=True, today=args.as_of) as ctx:
            protocol = ctx.protocols.get(args.protocol)
            if protocol is None:
                known = ", ".join(sorted(ctx.protocols))
                fail(f"unknown protocol {args.protocol!r}; known: {known}")
            overview = build_overview(ctx.record, protocol, ctx.today())
            # As every printout: local time, the record's paper size, who prints it.
            stamp = documents.stamp(ctx.record, None, None)
    except StorageError as exc:
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 1
    except DomainError as exc:
        fail(str(exc))
    write_trial_report(overview, stamp, output)
    print(f"Wrote the {protocol.name} trial report to {output}")
    return 0
