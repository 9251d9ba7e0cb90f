"""The export format is the same on both engines: a record moved SQLite -> server -> SQLite by
export and import comes back identical, row for row."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from clinic_app.services import exchange
from clinic_app.services.demo import generate_demo
from clinic_app.storage.backup import daily_backup_if_due
from clinic_app.storage.database import ServerAddress, open_database


def _tables(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return dict(document["tables"])


def test_sqlite_to_server_to_sqlite_by_export_and_import(tmp_path: Path, pg_database: str) -> None:
    first = tmp_path / "clinic.sqlite3"
    with open_database(first) as record:
        generate_demo(record, patients=6, seed=2, today=date(2026, 3, 2))
        exchange.export_json(record, tmp_path / "1.json")
    with open_database(ServerAddress(pg_database)) as server:
        exchange.import_file(server, tmp_path / "1.json")
        exchange.export_json(server, tmp_path / "2.json")
        assert daily_backup_if_due(server) is None and server.backup_problem is None
    with open_database(tmp_path / "back.sqlite3") as back:
        exchange.import_file(back, tmp_path / "2.json")
        exchange.export_json(back, tmp_path / "3.json")
    one, two, three = (_tables(tmp_path / f"{n}.json") for n in (1, 2, 3))
    assert sum(len(rows) for rows in one.values()) > 100  # a real chart's worth of rows
    assert one == two == three
