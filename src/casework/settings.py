"""Configuration: every setting is an environment variable, read once (README lists them)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: str = ".casework"
    database_url: str | None = None
    master_key: str | None = None
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "casework"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    auth_secret: str | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str = "casework"
    auth_audience: str = "casework"
    policy_file: str | None = None
    log_level: LogLevel = "info"
    # SIGTERM: the orderly stop's bound, after which what is left is killed (service.Stop).
    stop_seconds: float = 20.0
    # Live updates (server-sent events): open streams per caller and in all, per API process.
    streams_per_caller: int = 8
    streams_total: int = 500

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()


PREFIX = "CASEWORK_"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read CASEWORK_* variables; an empty value counts as unset. Bad values fail loudly."""
    environ = os.environ if environ is None else environ
    raw = {
        name: environ[PREFIX + name.upper()]
        for name in Settings.__struct_fields__
        if environ.get(PREFIX + name.upper())
    }
    return msgspec.convert(raw, Settings, strict=False)
