"""The ``clinic-app`` command: the desktop app by default, subcommands for headless work.

Thin by design: it parses arguments and calls the layers. Qt is imported only when the GUI is
actually started, so every subcommand works on a machine without a display.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import clinic_app
from clinic_app.commands.parsing import CommandError, OneLineParser, common_options
from clinic_app.storage.errors import DatabaseError, StorageError, translate

# Modules under clinic_app.commands that contribute subcommands, in the order --help lists them.
COMMAND_MODULES = (
    "protocol_commands",
    "record_commands",
    "data_commands",
    "print_commands",
    "trial_commands",
    "settings_commands",
    "user_commands",
    "copy_commands",
    "checkout_commands",
    "review_commands",
)

# The modules without Qt that the main window's start imports (through clinic_app.gui.app); a
# module missing here is only imported later, never skipped.
QT_FREE_START_MODULES = (
    "clinic_app.storage.database",
    "clinic_app.storage.backup",
    "clinic_app.storage.location",
    "clinic_app.storage.identity",
    "clinic_app.storage.changes",
    "clinic_app.storage.permissions",
    "clinic_app.storage.users",
    "clinic_app.core.errors",
    "clinic_app.core.day_words",
    "clinic_app.services.patient_rows",
)

NO_DISPLAY_MESSAGE = (
    "clinic-app: no graphical display is available (DISPLAY and WAYLAND_DISPLAY are unset), so the "
    "desktop app cannot open; the headless subcommands still work (see clinic-app --help)."
)


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = OneLineParser(
        prog="clinic-app",
        description="Offline assistant for myeloma protocols. Without a command, opens the app.",
        parents=[common],
    )
    parser.add_argument(
        "--version", action="version", version=f"clinic-app {clinic_app.__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"clinic_app.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"clinic_app.commands.{name}":
                raise
            continue  # that group of commands is not part of this build yet
        module.register(sub, common)
    return parser


def opens_the_app(words: Sequence[str]) -> bool:
    """Nothing but ``--db PATH``: the desktop app, whose start need not import every
    subcommand's module (reports, import and export, the trial board; issue 16)."""
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word == "--db" and rest:
            rest.pop(0)
        elif not word.startswith("--db="):
            return False
    return True


def app_parser() -> argparse.ArgumentParser:
    """The parser of the desktop app's own options (the same ``--db`` the subcommands take)."""
    parser = OneLineParser(prog="clinic-app", parents=[common_options()])
    parser.set_defaults(command=None)
    return parser


def display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in {"offscreen", "minimal", "vnc"}:
        return True
    if sys.platform == "win32" or sys.platform == "darwin":
        return True  # a user session there always has a window system
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = app_parser() if opens_the_app(words) else build_parser()
    args = parser.parse_args(words)
    try:
        if args.command is None:
            return launch_gui(args)
        status: int = args.handler(args)
        return status
    except CommandError as exc:
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:  # the record failed (damaged, locked, full disk): one sentence
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 1
    except DatabaseError as exc:
        # An environment failure a command did not translate still gets its sentence, never
        # a traceback; anything else (our own bug) keeps its traceback.
        error = translate(exc, _record_path(args))
        if error is None:
            raise
        print(f"clinic-app: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


def _record_path(args: argparse.Namespace) -> Path:
    from clinic_app.storage.location import resolve_db_path

    try:
        where = resolve_db_path(getattr(args, "db", None))
        return where if isinstance(where, Path) else Path(str(where))
    except (StorageError, OSError):
        return Path(str(getattr(args, "db", None) or "the record"))


def launch_gui(args: argparse.Namespace) -> int:
    if not display_available():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 2
    # The window's Qt-free layers first: once PySide6 is imported, its import hook runs on every
    # later import, which adds ~50 ms to the start when these come after it (issue 16).
    for name in QT_FREE_START_MODULES:
        importlib.import_module(name)
    gui = importlib.import_module("clinic_app.gui.app")  # Qt is loaded only here
    status: int = gui.run_app(getattr(args, "db", None))
    return status


if __name__ == "__main__":
    sys.exit(main())
