"""A real PostgreSQL server from Debian's package, started on a free loopback port for the tests."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

MISSING = "PostgreSQL (Debian package postgresql) not installed: initdb/pg_ctl not found"


def pg_bin() -> str | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "pg_ctl")) and os.path.exists(os.path.join(d, "initdb")):
            return d
    found = shutil.which("pg_ctl")
    return os.path.dirname(found) if found else None


def _as_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; as root, run it as the 'postgres' user of Debian's package."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Yields a SQLAlchemy URL of a fresh database; the server is stopped and its files removed afterwards."""
    bindir = pg_bin()
    if bindir is None:
        raise FileNotFoundError(MISSING)
    root = tempfile.mkdtemp(prefix="lb-pg-")
    data = os.path.join(root, "data")
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    os.chmod(root, 0o755)
    try:
        subprocess.run(_as_user([f"{bindir}/initdb", "-D", data, "-U", "lb", "--auth=trust", "-E", "UTF8",
                                 "--locale=C"]), check=True, capture_output=True)
        log = os.path.join(root, "server.log")
        subprocess.run(_as_user([f"{bindir}/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o",
                                 f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off", "start"]),
                       check=True, capture_output=True)
        url = f"postgresql+psycopg://lb@127.0.0.1:{port}/postgres"
        _wait(url)
        yield url
    finally:
        subprocess.run(_as_user([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _wait(url: str, timeout: float = 30) -> None:
    from sqlalchemy import create_engine, text

    deadline = time.monotonic() + timeout
    while True:
        try:
            eng = create_engine(url)
            with eng.connect() as c:
                c.execute(text("select 1"))
            eng.dispose()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
