"""TLS through the project's own connection path: `DB_SSLMODE=verify-full` with a CA file.

Settings come from the environment, `config.endpoint` builds the target, and
`databases.connect` opens it, exactly as a run does. The server side is the embedded PostgreSQL
behind a TLS front on 127.0.0.1 (see tests/tls_server.py for why PostgreSQL itself cannot
terminate TLS here): the right CA connects, a wrong CA or a certificate for another host name
is refused, and a plaintext connection is refused, which proves the others really used TLS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdw_migrate import config, databases, embedded
from mdw_migrate.config import Settings
from mdw_migrate.errors import MigrationError

from ..tls_server import OPENSSL, Certificates, TlsFront, make_certificates

pytestmark = pytest.mark.skipif(
    OPENSSL is None, reason="TLS tests need the `openssl` tool on PATH to make test certificates"
)

PASSWORD_MARKER = "pw-marker-7f3a9c-never-print"


class Fronts:
    """Two TLS fronts to the same embedded server: one shows the certificate for localhost and
    127.0.0.1, the other one signed by the same CA but made for db.example.internal only."""

    def __init__(self, certs: Certificates, matching: TlsFront, foreign: TlsFront) -> None:
        self.certs = certs
        self.matching = matching
        self.foreign = foreign


@pytest.fixture(scope="module")
def fronts(
    pg_server: embedded.EmbeddedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fronts]:
    certs = make_certificates(tmp_path_factory.mktemp("tls"))
    backend = f"{pg_server.socket_dir}/.s.PGSQL.{pg_server.port}"
    matching = TlsFront(certs.server_cert, certs.server_key, backend)
    foreign = TlsFront(certs.foreign_cert, certs.foreign_key, backend)
    try:
        matching.start()
        foreign.start()
        yield Fronts(certs, matching, foreign)
    finally:
        # Always, even when a test (or the second start) failed.
        matching.stop()
        foreign.stop()


def _target(
    monkeypatch: pytest.MonkeyPatch, host: str, port: int, sslmode: str | None, rootcert: Path
) -> config.Endpoint:
    """The target endpoint as a run builds it, from environment variables only."""
    monkeypatch.setenv("TARGET_DB_HOST", host)
    monkeypatch.setenv("TARGET_DB_PORT", str(port))
    monkeypatch.setenv("TARGET_DB_USER", "postgres")
    monkeypatch.setenv("TARGET_DB_NAME", "postgres")
    monkeypatch.setenv("TARGET_DB_PASSWORD", PASSWORD_MARKER)
    monkeypatch.setenv("DB_SSLROOTCERT", str(rootcert))
    if sslmode is None:
        monkeypatch.delenv("DB_SSLMODE", raising=False)
    else:
        monkeypatch.setenv("DB_SSLMODE", sslmode)
    # No .env file: a developer's own would otherwise mix into the test.
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return config.endpoint(settings, "target", None, 0)


def _refused(ep: config.Endpoint) -> MigrationError:
    with pytest.raises(MigrationError) as caught:
        databases.connect(ep, connect_timeout=5).close()
    exc = caught.value
    assert exc.code == "CONNECTION_FAILED"
    # Nothing the operator or the audit trail may see carries the password.
    shown = [str(exc), repr(exc), exc.message, exc.suggestion, json.dumps(exc.to_contract())]
    shown.append(str(exc.__cause__))  # libpq's own text, part of any traceback
    for text in shown:
        assert PASSWORD_MARKER not in text
    return exc


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_verify_full_with_the_right_ca_connects_over_tls(
    fronts: Fronts,
    pg_server: embedded.EmbeddedServer,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
) -> None:
    ep = _target(monkeypatch, host, fronts.matching.port, "verify-full", fronts.certs.ca)
    assert ep.sslmode == "verify-full" and ep.sslrootcert == str(fronts.certs.ca)
    before = fronts.matching.tls_sessions
    with databases.connect(ep, connect_timeout=5) as conn:
        # libpq's own word that the session is encrypted (pg_stat_ssl would say false: the
        # backend's leg is the front's Unix socket).
        assert conn.pgconn.ssl_in_use
        # ...and the statements reach the embedded server behind the front.
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
        assert row is not None and Path(row[0]).resolve() == pg_server.pgdata.resolve()
    assert fronts.matching.tls_sessions == before + 1


def test_verify_full_with_a_wrong_ca_is_refused(
    fronts: Fronts, monkeypatch: pytest.MonkeyPatch
) -> None:
    ep = _target(
        monkeypatch, "localhost", fronts.matching.port, "verify-full", fronts.certs.other_ca
    )
    exc = _refused(ep)
    assert "certificate verify failed" in exc.message
    assert exc.details == {"side": "target", "host": "localhost", "database": "postgres"}


def test_verify_full_refuses_a_certificate_for_another_host_name(
    fronts: Fronts, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chain is valid (same CA); only the name is wrong: db.example.internal vs 127.0.0.1.
    ep = _target(monkeypatch, "127.0.0.1", fronts.foreign.port, "verify-full", fronts.certs.ca)
    exc = _refused(ep)
    assert "does not match host name" in exc.message


def test_plaintext_is_refused_so_the_successes_above_used_tls(
    fronts: Fronts, monkeypatch: pytest.MonkeyPatch
) -> None:
    ep = _target(monkeypatch, "127.0.0.1", fronts.matching.port, "disable", fronts.certs.ca)
    before = fronts.matching.plaintext_refused
    exc = _refused(ep)
    assert "SSL off" in exc.message
    assert fronts.matching.plaintext_refused == before + 1


def test_default_sslmode_is_require_remotely_and_prefer_on_loopback(
    fronts: Fronts, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config.default_sslmode("db.example.internal", None) == "require"
    # Unset DB_SSLMODE on localhost gives `prefer`, which still takes TLS when it is offered.
    ep = _target(monkeypatch, "localhost", fronts.matching.port, None, fronts.certs.ca)
    assert ep.sslmode == "prefer"
    with databases.connect(ep, connect_timeout=5) as conn:
        assert conn.pgconn.ssl_in_use
