"""A throwaway PostgreSQL server for the test run (issue 18).

``PgServer.start()`` runs ``initdb`` into a fresh temporary folder and starts the server with
``pg_ctl -w``; it listens only on a Unix socket inside that folder, never on a TCP port.
initdb and the server refuse to run as root, so under root both run as the unprivileged
user ``nobody``. ``stop()`` shuts the server down (``pg_ctl stop -m fast``) and removes the
folder; it is idempotent and also runs at interpreter exit. A run killed outright (a time-out,
``kill -9``) runs no Python at all, so a small watchdog process beside it stops the server
and removes the folder when the run's end closes its pipe: no server is left behind.

The session fixture ``pg_server`` and the per-test ``pg_database`` in tests/conftest.py use
this module. psycopg is imported only where a database is created, so importing this module
costs nothing for the suites that never touch a server.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

OWNER = "clinic_owner"
PORT = 5432  # the socket's file name; no TCP port is opened
UNPRIVILEGED_USER = "nobody"
REQUIRE_ENV = "CLINIC_APP_REQUIRE_PG"
TOOLS = ("initdb", "pg_ctl")
DEBIAN_ROOT = Path("/usr/lib/postgresql")

# Written into postgresql.conf: no TCP, speed over durability (the data is thrown away).
SERVER_SETTINGS = {
    "listen_addresses": "''",
    "port": str(PORT),
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "'32MB'",
    "max_connections": "50",
}

_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Run beside the test run, in a session of its own: its standard input is a pipe from the run,
# so it reads end-of-file however the run ends, even killed outright, and then stops a server
# the run could not stop itself. stop() writes "stopped" first, and then it does nothing.
_WATCHDOG = """
import shutil, subprocess, sys
pg_ctl, data, root, uid, gid = sys.argv[1:6]
if sys.stdin.read() != "stopped":
    user = {} if uid == "-" else {"user": int(uid), "group": int(gid), "extra_groups": []}
    subprocess.run(
        [pg_ctl, "-D", data, "stop", "-m", "immediate", "-w"], cwd=root, check=False,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **user,
    )
    shutil.rmtree(root, ignore_errors=True)
"""


class PgServerError(RuntimeError):
    """The server could not be set up, started or stopped."""


class PgServerUnavailable(PgServerError):
    """No PostgreSQL server programs (initdb and pg_ctl) were found on this machine."""


def server_required(environ: Mapping[str, str] | None = None) -> bool:
    """True when the run must fail, not skip, without a server (make test and CI set it)."""
    env = os.environ if environ is None else environ
    return env.get(REQUIRE_ENV, "") == "1"


def _has_tools(folder: Path) -> bool:
    return all(os.access(folder / tool, os.X_OK) for tool in TOOLS)


def _version_key(folder: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); a folder that is not a number sorts first.
    digits = re.findall(r"\d+", folder.parent.name)
    return tuple(int(d) for d in digits)


def find_bindir(
    search_path: str | None = None,
    debian_roots: Iterable[Path] = (DEBIAN_ROOT,),
    use_pg_config: bool = True,
) -> Path | None:
    """The folder holding initdb and pg_ctl, or None.

    In order: what ``pg_config --bindir`` names (libpq-dev's pg_config names the server's
    folder even where only the client is installed, hence the check), the newest
    /usr/lib/postgresql/*/bin, then the programs on the search path.
    """
    path = os.environ.get("PATH", "") if search_path is None else search_path
    pg_config = shutil.which("pg_config", path=path) if use_pg_config else None
    if pg_config is not None:
        done = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=30
        )
        named = Path(done.stdout.strip())
        if done.returncode == 0 and done.stdout.strip() and _has_tools(named):
            return named
    for root in debian_roots:
        found = sorted((d for d in root.glob("*/bin") if _has_tools(d)), key=_version_key)
        if found:
            return found[-1]
    located = [shutil.which(tool, path=path) for tool in TOOLS]
    if all(located):
        # Through a symlink such as /usr/local/bin/initdb: initdb finds postgres beside its
        # real file, so the real folder is the one to use.
        folders = {Path(str(p)).resolve().parent for p in located}
        if len(folders) == 1:
            return folders.pop()
    return None


class PgServer:
    """One running server in its own temporary folder; see the module docstring."""

    def __init__(self, bindir: Path, root: Path, run_as: str | None) -> None:
        self.bindir = bindir
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "socket"
        self.log_file = root / "server.log"
        self.run_as = run_as
        self.running = False
        self._watchdog: subprocess.Popen[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def start(cls, bindir: Path | None = None) -> PgServer:
        """initdb into a fresh folder and start the server; raises PgServerUnavailable."""
        found = bindir if bindir is not None else find_bindir()
        if found is None or not _has_tools(found):
            raise PgServerUnavailable(
                "No PostgreSQL server programs (initdb and pg_ctl) were found: install the "
                "distribution's postgresql package (bash .ci/install-system-deps.sh does)."
            )
        run_as = UNPRIVILEGED_USER if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="clinic-pg-"))
        server = cls(found, root, run_as)
        try:
            server._prepare_folders()
            server._initdb()
            server._configure()
            server._start_watchdog()
            server._pg_ctl("start", "-w", "-t", "60", "-l", str(server.log_file))
            server.running = True
        except BaseException:
            server.stop()
            raise
        atexit.register(server.stop)
        return server

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder; safe to call twice."""
        try:
            if self.running:
                self.running = False
                self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self._dismiss_watchdog()

    def __enter__(self) -> PgServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- connecting --------------------------------------------------------------------------

    def conninfo(self, dbname: str, user: str = OWNER) -> str:
        """A libpq URI for ``dbname`` over this server's Unix socket."""
        return (
            f"postgresql://{quote(user, safe='')}@/{quote(dbname, safe='')}"
            f"?host={quote(str(self.socket_dir), safe='')}&port={PORT}"
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database owned by clinic_owner (empty, or a copy of ``template``, which
        nobody may be connected to) and return its conninfo."""
        if not _DB_NAME.fullmatch(name) or (template and not _DB_NAME.fullmatch(template)):
            raise ValueError(f"not a plain database name: {name!r} / {template!r}")
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(OWNER)
        )
        if template:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        self._admin(statement)
        return self.conninfo(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any connection a test left open to it."""
        from psycopg import sql

        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def postmaster_pid(self) -> int:
        """The server's main process, from the first line of postmaster.pid."""
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])

    # -- internals ---------------------------------------------------------------------------

    def _admin(self, statement: Any) -> None:
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def _start_watchdog(self) -> None:
        uid, gid = "-", "-"
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            uid, gid = str(entry.pw_uid), str(entry.pw_gid)
        pg_ctl, data, root = str(self.bindir / "pg_ctl"), str(self.data_dir), str(self.root)
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, pg_ctl, data, root, uid, gid],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            text=True,
            start_new_session=True,  # out of reach of a signal sent to the run's process group
        )

    def _dismiss_watchdog(self) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None or watchdog.stdin is None:
            return
        try:
            watchdog.stdin.write("stopped")
            watchdog.stdin.close()
        except BrokenPipeError:
            pass  # it had already gone
        watchdog.wait(timeout=30)

    def _prepare_folders(self) -> None:
        self.socket_dir.mkdir(mode=0o700)
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "--auth=trust",
            "--locale=C",
            "--encoding=UTF8",
            "-U",
            OWNER,
            "--no-sync",  # nothing here needs to survive a power cut
        )

    def _configure(self) -> None:
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'"}
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# tests/pg_server.py\n" + lines)

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), *args)

    def _run(self, *command: str) -> None:
        user: dict[str, Any] = {}
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["HOME"] = str(self.root)
        env["LC_ALL"] = "C"
        done = subprocess.run(
            command,
            cwd=self.root,  # the unprivileged user may not be able to read the caller's folder
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            **user,
        )
        if done.returncode != 0:
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            raise PgServerError(
                f"{Path(command[0]).name} {command[-1]} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}{log}"
            )
