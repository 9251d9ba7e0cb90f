"""The throwaway PostgreSQL server the test run starts (tests/pg_server.py, issue 18): it answers,
runs as an unprivileged OS user, opens no TCP port, keeps each test's database apart, and
is gone after stop()."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from ..pg_server import PgServer, PgServerUnavailable, find_bindir, server_required

ROOT = Path(__file__).resolve().parents[2]


def uid_of(pid: int) -> int:
    """The real user id of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for process {pid}")


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def tcp_listening_inodes() -> set[str]:
    """Inodes of every TCP socket in LISTEN state (state 0A), IPv4 and IPv6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def test_a_connection_to_the_test_database_runs_a_query(pg_database: str) -> None:
    with psycopg.connect(pg_database) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT current_user").fetchone() == ("clinic_owner",)
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
        assert tables == (0,)


def test_the_server_runs_as_an_unprivileged_user(pg_server: PgServer, pg_database: str) -> None:
    with psycopg.connect(pg_database) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        backend = int(row[0])
    for pid in (pg_server.postmaster_pid(), backend):
        assert uid_of(pid) != 0
        if os.geteuid() == 0:
            assert uid_of(pid) == pwd.getpwnam("nobody").pw_uid


def test_the_server_listens_on_no_tcp_port(pg_server: PgServer, pg_database: str) -> None:
    with psycopg.connect(pg_database) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        # NULL over a Unix socket; an address over TCP.
        assert conn.execute("SELECT inet_server_addr()").fetchone() == (None,)
    server_sockets = socket_inodes(pg_server.postmaster_pid())
    assert server_sockets, "the server holds no socket at all: the check would prove nothing"
    assert not server_sockets & tcp_listening_inodes()
    assert (pg_server.socket_dir / ".s.PGSQL.5432").is_socket()


def test_two_databases_are_isolated(pg_server: PgServer) -> None:
    first = pg_server.create_database("isolation_first")
    second = pg_server.create_database("isolation_second")
    try:
        with psycopg.connect(first) as conn:
            conn.execute("CREATE TABLE patient (mrn text PRIMARY KEY)")
            conn.execute("INSERT INTO patient VALUES ('MRN-0001')")
        with psycopg.connect(second) as conn:
            found = conn.execute("SELECT to_regclass('public.patient')").fetchone()
            assert found == (None,)
        with psycopg.connect(first) as conn:
            assert conn.execute("SELECT mrn FROM patient").fetchall() == [("MRN-0001",)]
    finally:
        pg_server.drop_database("isolation_first")
        pg_server.drop_database("isolation_second")


def test_each_test_gets_its_own_database(pg_database: str) -> None:
    # A table a test leaves behind never reaches the next one: made here, absent from the
    # fresh database of test_a_connection_to_the_test_database_runs_a_query's check.
    with psycopg.connect(pg_database) as conn:
        conn.execute("CREATE TABLE left_behind (x int)")
    assert "dbname" not in pg_database  # a URI, not a keyword string
    assert pg_database.startswith("postgresql://clinic_owner@/t")


def test_conninfo_percent_encodes_the_socket_folder(pg_server: PgServer) -> None:
    uri = pg_server.conninfo("some_db", user="reader")
    encoded = str(pg_server.socket_dir).replace("/", "%2F")
    assert uri == f"postgresql://reader@/some_db?host={encoded}&port=5432"


def test_a_database_name_that_is_not_plain_is_refused(pg_server: PgServer) -> None:
    with pytest.raises(ValueError, match="not a plain database name"):
        pg_server.create_database('x"; DROP DATABASE postgres; --')


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "State:\tZ" not in status


def test_stop_shuts_the_server_down_and_removes_its_folder(pg_server: PgServer) -> None:
    # A second, short-lived server of its own, so the session's server stays up.
    server = PgServer.start(pg_server.bindir)
    pid = server.postmaster_pid()
    conninfo = server.create_database("short_lived")
    assert running(pid)
    server.stop()
    assert not server.root.exists()
    assert not running(pid)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(conninfo, connect_timeout=5)
    server.stop()  # idempotent


def test_a_run_killed_outright_leaves_no_server_behind(pg_server: PgServer) -> None:
    # A child test run that starts a server, says where, and is then killed with SIGKILL,
    # so neither its fixture teardown nor atexit runs: the watchdog must clean up.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tests.pg_server import PgServer; from pathlib import Path\n"
            "s = PgServer.start(Path(sys.argv[1])); print(s.root, s.postmaster_pid(), flush=True)\n"
            "time.sleep(120)",
            str(pg_server.bindir),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    root_text, pid_text = child.stdout.readline().split()
    root, pid = Path(root_text), int(pid_text)
    assert root.exists() and running(pid)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    deadline = time.monotonic() + 30
    while (root.exists() or running(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(pid)
    assert not root.exists()


def test_without_server_programs_nothing_is_found_and_start_says_so(tmp_path: Path) -> None:
    assert find_bindir(search_path=str(tmp_path), debian_roots=(tmp_path,)) is None
    with pytest.raises(PgServerUnavailable, match="No PostgreSQL server programs"):
        PgServer.start(bindir=tmp_path)


def test_the_session_server_uses_the_programs_found(pg_server: PgServer) -> None:
    assert find_bindir() == pg_server.bindir
    assert (pg_server.bindir / "initdb").exists() and (pg_server.bindir / "pg_ctl").exists()


def test_only_the_value_1_requires_the_server() -> None:
    assert server_required({"CLINIC_APP_REQUIRE_PG": "1"})
    assert not server_required({"CLINIC_APP_REQUIRE_PG": "0"})
    assert not server_required({})
