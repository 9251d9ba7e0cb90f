"""What the command line needs before any command runs: its parser, its shared options and
its error. Nothing here imports the clinical rules, so the desktop app's start, which goes
through ``cli``, does not wait for them (issue 16)."""

from __future__ import annotations

import argparse
from typing import NoReturn


class CommandError(Exception):
    """A mistake in what the user asked for; printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; a person needs one line that says what to fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts, wherever they stand on the command line."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the database file (default: $CLINIC_APP_DB, else the per-user data folder)",
    )
    return parent
