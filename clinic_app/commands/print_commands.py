"""``card``, ``tox-summary`` and ``cards``: printed documents from the command line (issue 5).

Every PDF is rendered completely in memory, written to a temporary file in the target folder
and renamed into place, so a failure never leaves a partial document behind. User mistakes
(unknown MRN, missing cycle, missing setting, unwritable path) print one line, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from clinic_app.commands.base import context, existing_record, fail, iso_date, positive_int
from clinic_app.services import documents
from clinic_app.services.context import AppContext
from clinic_app.services.documents import DOCUMENT_PROBLEMS, card_file_name, unique_card_name
from clinic_app.storage.errors import StorageError

__all__ = ["card_file_name", "unique_card_name"]  # kept here for the commands' readers


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    card = subparsers.add_parser(
        "card", parents=[common], help="print one patient's dosing card for one cycle (PDF)"
    )
    card.add_argument("mrn", metavar="MRN", help="the patient's medical record number")
    card.add_argument("--cycle", type=positive_int, required=True, metavar="N")
    card.add_argument("-o", "--output", required=True, metavar="FILE.pdf", help="the PDF to write")
    card.add_argument("--by", metavar="NAME", help="who prints it (default: the logged-in user)")
    card.set_defaults(handler=run_card)

    tox = subparsers.add_parser(
        "tox-summary",
        parents=[common],
        help="print one patient's toxicity summary for one cycle (PDF)",
    )
    tox.add_argument("mrn", metavar="MRN", help="the patient's medical record number")
    tox.add_argument("--cycle", type=positive_int, required=True, metavar="N")
    tox.add_argument("-o", "--output", required=True, metavar="FILE.pdf", help="the PDF to write")
    tox.add_argument("--by", metavar="NAME", help="who prints it (default: the logged-in user)")
    tox.add_argument(
        "--all-doses",
        action="store_true",
        help="list every dose in the appendix (default: only held, missed, unrecorded, modified)",
    )
    tox.set_defaults(handler=run_tox_summary)

    batch = subparsers.add_parser(
        "cards",
        parents=[common],
        help="print the dosing cards of every patient whose cycle starts on a day",
    )
    batch.add_argument("--date", type=iso_date, required=True, metavar="YYYY-MM-DD")
    batch.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the PDFs")
    batch.add_argument("--by", metavar="NAME", help="who prints them (default: the logged-in user)")
    batch.set_defaults(handler=run_cards)


def _open(args: argparse.Namespace) -> AppContext:
    existing_record(args)
    return context(args)


def _check_target(path: Path) -> None:
    if path.is_dir():
        fail(f"{path} is a folder; give a file name for the PDF with -o")
    if not path.parent.is_dir():
        fail(f"cannot write {path}: the folder {path.parent} does not exist")


def _write(path: Path, data: bytes) -> None:
    from clinic_app.reports.layout import write_pdf  # ReportLab loads when a PDF is made

    try:
        write_pdf(path, data)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def _one(args: argparse.Namespace, render: Callable[[AppContext], bytes], what: str) -> int:
    target = Path(args.output)
    _check_target(target)
    try:
        with _open(args) as ctx:
            data = render(ctx)
    except DOCUMENT_PROBLEMS as exc:
        fail(f"{what} not printed: {exc}")
    except StorageError as exc:
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 1
    _write(target, data)
    print(f"Wrote {target}")
    return 0


def run_card(args: argparse.Namespace) -> int:
    def render(ctx: AppContext) -> bytes:
        from clinic_app.reports.dosing_card import render_dosing_card

        card = documents.build_dosing_card(
            ctx.record,
            args.mrn,
            args.cycle,
            printed_by=args.by,
            printed_at=_now(),
            protocols=ctx.protocols,
        )
        return render_dosing_card(card)

    return _one(args, render, "card")


def run_tox_summary(args: argparse.Namespace) -> int:
    def render(ctx: AppContext) -> bytes:
        from clinic_app.reports.toxicity_summary import render_toxicity_summary

        summary = documents.build_toxicity_summary(
            ctx.record,
            args.mrn,
            args.cycle,
            printed_by=args.by,
            printed_at=_now(),
            protocols=ctx.protocols,
        )
        return render_toxicity_summary(summary, all_doses=args.all_doses)

    return _one(args, render, "toxicity summary")


def run_cards(args: argparse.Namespace) -> int:
    from clinic_app.reports.dosing_card import render_dosing_card
    from clinic_app.reports.layout import write_pdf

    folder = Path(args.output)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot use {folder} for the cards: {exc.strerror or exc}")
    if not folder.is_dir():
        fail(f"{folder} is not a folder")
    printed = failed = 0
    try:
        with _open(args) as ctx:
            record = ctx.record
            try:
                refs = documents.cycles_starting_on(record, args.date, ctx.protocols)
            except DOCUMENT_PROBLEMS as exc:
                fail(f"cards not printed: {exc}")
            if not refs:
                print(f"No cycle starts on {args.date.isoformat()}; nothing printed.")
                return 0
            used: set[str] = set()
            for number, ref in enumerate(refs, start=1):
                who = f"[{number}/{len(refs)}] {ref.patient.mrn} {ref.patient.full_name}"
                target = folder / unique_card_name(ref.patient.mrn, ref.cycle.number, used)
                try:
                    card = documents.dosing_card_for(record, ref, args.by, _now())
                    data = render_dosing_card(card)
                    write_pdf(target, data)
                except (*DOCUMENT_PROBLEMS, OSError) as exc:
                    failed += 1
                    print(f"{who}: cycle {ref.cycle.number} NOT printed: {exc}", flush=True)
                    continue
                printed += 1
                print(f"{who}: cycle {ref.cycle.number} -> {target}", flush=True)
    except StorageError as exc:
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 1
    print(f"{printed} of {printed + failed} cards printed.")
    return 1 if failed else 0


def _now() -> datetime:
    return datetime.now().astimezone()
