"""A server connection that drops (the server restarted, the network went away for a moment) is
replaced by itself at the next save or read; a server that cannot be reached is said in one
sentence, nothing half-written stays, and once it is back the same save works."""

from __future__ import annotations

from datetime import date

import pytest

from clinic_app.core.records import Patient, Sex
from clinic_app.storage.database import ServerAddress, open_database
from clinic_app.storage.errors import ServerUnavailableError

from .pg_helpers import end_other_sessions, server_down


def _patient(mrn: str) -> Patient:
    return Patient(mrn, "Novák", "Petr", date(1949, 5, 6), Sex.MALE)


def test_a_drop_between_two_saves_is_not_even_noticed(pg_database: str) -> None:
    with open_database(ServerAddress(pg_database)) as record:
        record.repos.patients.add(_patient("D-1"))
        assert end_other_sessions(pg_database) == 1
        record.repos.patients.add(_patient("D-2"))  # a new connection, at BEGIN
        assert end_other_sessions(pg_database) == 1
        assert [p.mrn for p in record.repos.patients.all()] == ["D-1", "D-2"]  # a read, too
        with record.read_snapshot():
            assert len(record.repos.patients.all()) == 2


def test_a_server_that_is_down_is_one_sentence_and_the_save_works_once_it_is_back(
    pg_database: str,
) -> None:
    with open_database(ServerAddress(pg_database)) as record:
        record.repos.patients.add(_patient("S-1"))
        with server_down(pg_database):
            with pytest.raises(ServerUnavailableError) as down:
                record.repos.patients.add(_patient("S-2"))
            assert "nothing was saved" in str(down.value)
            with pytest.raises(ServerUnavailableError):
                record.repos.patients.all()
        record.repos.patients.add(_patient("S-2"))  # the nurse saves again
        assert [p.mrn for p in record.repos.patients.all()] == ["S-1", "S-2"]  # nothing doubled
