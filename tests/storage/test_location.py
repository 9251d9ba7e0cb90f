from __future__ import annotations

from pathlib import Path

import pytest

from clinic_app.storage import location
from clinic_app.storage.database import ServerAddress
from clinic_app.storage.errors import StorageError
from clinic_app.storage.location import ENV_VAR, resolve_db_path


@pytest.fixture
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # platformdirs reads XDG_DATA_HOME on Linux; point it somewhere disposable.
    data_home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.delenv(ENV_VAR, raising=False)
    return data_home


def test_default_is_in_per_user_data_folder_and_folder_is_created(fake_home: Path) -> None:
    path = resolve_db_path(None)
    assert path == location.default_data_dir() / "clinic-app.sqlite3"
    assert path.parent.is_dir()
    assert not path.exists()  # the file itself is made by open_database


def test_env_overrides_default(
    fake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "env" / "nested" / "record.sqlite3"
    monkeypatch.setenv(ENV_VAR, str(target))
    assert resolve_db_path(None) == target
    assert target.parent.is_dir()


def test_cli_overrides_env(
    fake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.sqlite3"))
    assert resolve_db_path(str(tmp_path / "cli.sqlite3")) == tmp_path / "cli.sqlite3"


def test_blank_env_falls_back_to_default(fake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "")
    assert resolve_db_path(None) == location.default_data_dir() / "clinic-app.sqlite3"


def test_data_folder_from_this_computers_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config" / "settings.json"
    config.parent.mkdir()
    config.write_text('{"data.folder": "' + str(tmp_path / "shared") + '"}', encoding="utf-8")
    monkeypatch.setenv("CLINIC_APP_CONFIG", str(config))
    monkeypatch.delenv("CLINIC_APP_DB", raising=False)
    assert resolve_db_path(None) == tmp_path / "shared" / "clinic-app.sqlite3"
    # --db and CLINIC_APP_DB still win over the settings file
    assert resolve_db_path(str(tmp_path / "x.sqlite3")) == tmp_path / "x.sqlite3"
    monkeypatch.setenv("CLINIC_APP_DB", str(tmp_path / "env.sqlite3"))
    assert resolve_db_path(None) == tmp_path / "env.sqlite3"
    # a damaged settings file is refused, not silently replaced by the default folder
    monkeypatch.delenv("CLINIC_APP_DB")
    config.write_text("{not json", encoding="utf-8")
    with pytest.raises(StorageError, match="cannot be read"):
        resolve_db_path(None)


@pytest.mark.parametrize("address", ["file:record.sqlite3", "https://example.org/record"])
def test_an_address_the_app_cannot_open_is_refused_and_no_file_is_made(
    fake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageError, match="is not an address clinic-app can open"):
        resolve_db_path(address)
    monkeypatch.setenv(ENV_VAR, address)
    with pytest.raises(StorageError, match="Nothing was opened or created"):
        resolve_db_path(None)
    # The command that once wrote a SQLite file named "postgresql:" now stops, making nothing.
    from clinic_app.cli import main

    monkeypatch.delenv(ENV_VAR)
    assert main(["demo", "--db", address]) == 2
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize(
    "address",
    ["postgresql://nurse@clinic-server/record", "postgres:///record", "service=clinic"],
)
def test_a_server_address_names_a_server_record(
    fake_home: Path, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    assert resolve_db_path(address) == ServerAddress(address)
    monkeypatch.setenv(ENV_VAR, address)
    assert resolve_db_path(None) == ServerAddress(address)


def test_an_unreachable_server_is_one_sentence_and_no_file_is_made(
    fake_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from clinic_app.cli import main

    monkeypatch.chdir(tmp_path)
    address = f"postgresql://nurse@/record?host={tmp_path / 'no-server'}&connect_timeout=2"
    assert main(["demo", "--db", address]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "Traceback" not in err
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_the_settings_file_names_a_server_but_never_its_password(
    fake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "settings.json"
    monkeypatch.setenv("CLINIC_APP_CONFIG", str(config))
    config.write_text('{"data.server": "service=clinic"}', encoding="utf-8")
    assert resolve_db_path(None) == ServerAddress("service=clinic")
    config.write_text('{"data.server": "postgresql://nurse:secret@host/db"}', encoding="utf-8")
    with pytest.raises(StorageError, match="password"):
        resolve_db_path(None)
    # --db still wins over the settings file
    assert resolve_db_path(str(tmp_path / "local.sqlite3")) == tmp_path / "local.sqlite3"


def test_a_windows_drive_path_is_a_file(fake_home: Path) -> None:
    # "C:record" has a one-letter scheme: a drive, not an address (not created here on Linux).
    assert resolve_db_path("C:record.sqlite3").name == "C:record.sqlite3"
