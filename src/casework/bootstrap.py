"""Wiring by hand: settings → database → application."""

from __future__ import annotations

from casework.application import CaseworkApp
from casework.db import Database, create_database, start_embedded
from casework.keys import load_master_key
from casework.settings import Settings

EMBEDDED_DBNAME = "casework"


def database(settings: Settings, embedded: Database | None = None) -> Database:
    """The configured PostgreSQL server, or the embedded one: `embedded` if given (the server
    `casework up` runs), else the one in the data dir (started if needed)."""
    if settings.database_url:
        return Database.from_url(settings.database_url)
    admin = embedded or start_embedded(settings.data_path / "pg")
    return create_database(admin, EMBEDDED_DBNAME)


def build_app(settings: Settings, embedded: Database | None = None) -> CaseworkApp:
    master_key = load_master_key(settings.master_key, settings.data_path)
    return CaseworkApp(database(settings, embedded), master_key)
