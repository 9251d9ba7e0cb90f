"""A server connection that drops (the server restarted, the network went away) is said in one
sentence, nothing half-written stays, and the next action reconnects by itself."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from clinic_app.core.records import Patient, Sex
from clinic_app.storage.database import ServerAddress, open_database
from clinic_app.storage.errors import ServerUnavailableError


def _end_other_sessions(conninfo: str) -> int:
    with psycopg.connect(conninfo, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def _patient(mrn: str) -> Patient:
    return Patient(mrn, "Novák", "Petr", date(1949, 5, 6), Sex.MALE)


def test_a_dropped_connection_is_one_sentence_then_the_record_reconnects(pg_database: str) -> None:
    with open_database(ServerAddress(pg_database)) as record:
        first = record.repos.patients.add(_patient("D-1"))
        assert _end_other_sessions(pg_database) == 1

        with pytest.raises(ServerUnavailableError) as lost:
            record.repos.patients.add(_patient("D-2"))
        assert "nothing unconfirmed was saved" in str(lost.value)
        assert "connects again by itself" in str(lost.value)

        # The nurse saves again: a new connection, the same record, nothing doubled.
        second = record.repos.patients.add(_patient("D-2"))
        assert [p.mrn for p in record.repos.patients.all()] == ["D-1", "D-2"]
        assert record.repos.patients.get(first).value.mrn == "D-1"
        assert record.repos.patients.get(second).value.mrn == "D-2"


def test_a_read_after_the_drop_reconnects_too(pg_database: str) -> None:
    with open_database(ServerAddress(pg_database)) as record:
        record.repos.patients.add(_patient("R-1"))
        _end_other_sessions(pg_database)
        with pytest.raises(ServerUnavailableError):
            record.repos.patients.all()
        with record.read_snapshot():
            assert [p.mrn for p in record.repos.patients.all()] == ["R-1"]
