"""Wiring by hand: settings → database → application."""

from __future__ import annotations

from casework.app import CaseworkApp
from casework.db import Database, create_database, start_embedded
from casework.keys import load_master_key
from casework.settings import Settings

EMBEDDED_DBNAME = "casework"


def database(settings: Settings) -> Database:
    """The configured PostgreSQL server, or the embedded one in the data dir (started if needed)."""
    if settings.database_url:
        return Database.from_url(settings.database_url)
    admin = start_embedded(settings.data_path / "pg")
    return create_database(admin, EMBEDDED_DBNAME)


def build_app(settings: Settings) -> CaseworkApp:
    return CaseworkApp(database(settings), load_master_key(settings.master_key, settings.data_path))
