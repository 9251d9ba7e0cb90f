"""Headless subcommands of ``clinic-app``.

Each module here exposes ``register(subparsers, common)`` that adds its subcommands, with a
handler stored as ``handler`` in the parsed namespace. Handlers return the exit status; they raise
:class:`CommandError` for anything the user can correct (exit status 2, one line on stderr).
"""
