"""The audit trail: one JSON line per command in `./audit/audit.jsonl`, hash-chained.

Each record carries the hash of the one before it, so an edited, removed, reordered or
inserted record breaks the chain and `verify` names the line. Removing the *last* record
leaves a valid shorter chain, so every append also rewrites a small sidecar `audit.head`
(last seq and hash); `verify` compares the two. Anyone who can write both files can still
rebuild a consistent log: the copy in `migration.audit_log` (see `state.audit_log`) is the
second witness.

Records hold ids, counts, codes and database identities only: secrets in the arguments are
masked, counts must be numbers and the error code must look like a code, not a message.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypedDict, get_args

from pydantic import SecretBytes, SecretStr

from . import __version__
from .errors import Code, CriticalError, MigrationError

LOG_NAME = "audit.jsonl"
HEAD_NAME = "audit.head"
MASK = "***"
GENESIS_HASH = "0" * 64

Outcome = Literal["success", "failed", "refused", "interrupted"]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))


class AuditRecord(TypedDict):
    seq: int
    timestamp: str
    user: str
    host: str
    command: str
    arguments: dict[str, Any]
    toolVersion: str
    source: dict[str, Any] | None
    target: dict[str, Any] | None
    counts: dict[str, Any]
    outcome: str
    errorCode: str | None
    previousHash: str
    hash: str


REQUIRED_FIELDS = AuditRecord.__required_keys__


@dataclass
class VerifyResult:
    ok: bool
    records: int
    problems: list[str] = field(default_factory=list)


# --- masking -------------------------------------------------------------------------------

# Substrings that make a key secret wherever they occur ("dbPassword", "MDW_ID_SECRET"), and
# words that do so only as a whole part ("pass", but not "bypass"). Over-masking is accepted.
_SECRET_SUBSTRINGS = ("password", "passwd", "passphrase", "secret", "token", "credential")
_SECRET_PARTS = frozenset({"pass", "pwd", "pw", "key", "auth", "authorization"})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NAME_EQUALS = re.compile(r"([A-Za-z0-9_.-]+)\s*=")  # conninfo, query strings, --opt=value
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:[^@]*@")  # user:pass@


def is_secret_key(key: str) -> bool:
    snake = _CAMEL.sub(r"\1_\2", key).lower()
    parts = [p for p in re.split(r"[^a-z0-9]+", snake) if p]
    joined = "".join(parts)
    return (
        any(s in joined for s in _SECRET_SUBSTRINGS)
        or any(p in _SECRET_PARTS for p in parts)
        or joined.endswith("key")  # apikey, secretkey, privatekey
    )


def _secret_string(value: str) -> bool:
    # A DSN, URL or `--opt=value` with a secret in it is masked whole: partial masking of
    # quoted conninfo values is where passwords leak.
    if _URL_PASSWORD.search(value):
        return True
    return any(is_secret_key(name) for name in _NAME_EQUALS.findall(value))


def _mask_value(value: object) -> object:
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, str):
        return MASK if _secret_string(value) else value
    if isinstance(value, Mapping):
        return mask_arguments(value)
    if isinstance(value, list | tuple | set | frozenset):
        out: list[object] = []
        mask_next = False  # argv style: ["--password", "value"]
        for item in value:
            out.append(MASK if mask_next else _mask_value(item))
            mask_next = (
                isinstance(item, str)
                and item.startswith("-")
                and "=" not in item
                and is_secret_key(item)
            )
        return out
    return value


def mask_arguments(args: Mapping[str, object]) -> dict[str, object]:
    """A copy of `args` with every secret value replaced by "***", at any depth."""
    return {
        str(key): MASK if is_secret_key(str(key)) else _mask_value(value)
        for key, value in args.items()
    }


# --- records -------------------------------------------------------------------------------


def canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: Mapping[str, Any]) -> str:
    """sha256 over the canonical JSON of the record without its own `hash` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


def _check_counts(counts: Mapping[str, object], path: str = "counts") -> None:
    # Counts are numbers; a string here is how a name or a message would slip into the file.
    for key, value in counts.items():
        if isinstance(value, Mapping):
            _check_counts(value, f"{path}.{key}")
        elif value is not None and not isinstance(value, int | float):
            raise ValueError(f"audit {path}.{key} must be a number, not {type(value).__name__}")


def _plain(value: object) -> Any:
    # Round trip through JSON so the hashed record is exactly what a reader parses back.
    return json.loads(json.dumps(value, ensure_ascii=False, default=str, allow_nan=False))


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry (some containers)
        return f"uid:{os.getuid()}"


def build_record(
    seq: int,
    previous_hash: str,
    command: str,
    arguments: Mapping[str, object],
    source_identity: Mapping[str, object] | None,
    target_identity: Mapping[str, object] | None,
    counts: Mapping[str, object],
    outcome: Outcome,
    error_code: str | None = None,
    now: datetime | None = None,
) -> AuditRecord:
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {sorted(OUTCOMES)}, not {outcome!r}")
    if error_code is not None and not _ERROR_CODE.fullmatch(error_code):
        raise ValueError("audit error_code must be a code such as DEPENDENCY_NOT_MET")
    _check_counts(counts)
    when = (now or datetime.now(UTC)).astimezone(UTC)
    record: AuditRecord = {
        "seq": seq,
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "user": _os_user(),
        "host": socket.gethostname(),
        "command": command,
        "arguments": _plain(mask_arguments(arguments)),
        "toolVersion": __version__,
        # Identities are host/port/database already; masked anyway in case a caller passes more.
        "source": None if source_identity is None else _plain(mask_arguments(source_identity)),
        "target": None if target_identity is None else _plain(mask_arguments(target_identity)),
        "counts": _plain(dict(counts)),
        "outcome": outcome,
        "errorCode": error_code,
        "previousHash": previous_hash,
        "hash": "",
    }
    record["hash"] = record_hash(record)
    return record


# --- the file ------------------------------------------------------------------------------


def _damaged(message: str) -> MigrationError:
    return CriticalError(
        code=Code.AUDIT_LOG_DAMAGED,
        message=message,
        suggestion="Run 'mdw-migrate audit verify' and restore ./audit from a copy",
    )


def _last_line(fd: int, size: int) -> bytes:
    """The file's last line (without its newline), read backwards in blocks."""
    buf = b""
    pos = size
    while pos > 0:
        step = min(8192, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        newline = buf.rfind(b"\n", 0, len(buf) - 1)  # skip the final newline itself
        if newline != -1:
            return buf[newline + 1 :].rstrip(b"\n")
    return buf.rstrip(b"\n")


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _link(obj: Mapping[str, Any] | None) -> tuple[int, str] | None:
    """(seq, hash) when `obj` has the two fields the chain needs."""
    if obj is None:
        return None
    seq, hash_ = obj.get("seq"), obj.get("hash")
    if isinstance(seq, int) and not isinstance(seq, bool) and isinstance(hash_, str):
        return seq, hash_
    return None


def _read_head(directory: Path) -> tuple[int, str] | None:
    try:
        return _link(_parse((directory / HEAD_NAME).read_bytes()))
    except FileNotFoundError:
        return None


def _write_head(directory: Path, seq: int, hash_: str) -> None:
    # Write-then-rename, so a crash leaves the old head or the new one, never half of one.
    tmp = directory / (HEAD_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(canonical_json({"seq": seq, "hash": hash_}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / HEAD_NAME)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _previous(fd: int, size: int, head: tuple[int, str] | None) -> tuple[int, str]:
    """Where the next record chains to: the log's last record, unless the head disagrees."""
    tail = _parse(_last_line(fd, size)) if size else None
    last = _link(tail)
    if last is not None and tail is not None:
        # The tail is trusted when it is the head, or its direct successor (a crash between
        # the log write and the head rename).
        if head is None or last == head:
            return last
        if last[0] == head[0] + 1 and tail.get("previousHash") == head[1]:
            return last
    if head is not None:
        # The log lost records the head remembers: chain to the head, so the gap stays visible
        # to `verify` instead of being papered over by the next record.
        return head
    if size == 0:
        return 0, GENESIS_HASH
    raise _damaged(f"the last line of {LOG_NAME} is not an audit record and {HEAD_NAME} is gone")


def append(
    directory: Path,
    command: str,
    arguments: Mapping[str, object],
    source_identity: Mapping[str, object] | None,
    target_identity: Mapping[str, object] | None,
    counts: Mapping[str, object],
    outcome: Outcome,
    error_code: str | None = None,
) -> AuditRecord:
    """Appends one record to `directory/audit.jsonl` and returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOG_NAME, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        # Held from reading the tail to renaming the head: concurrent commands get seq n, n+1.
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        seq, previous_hash = _previous(fd, size, _read_head(directory))
        record = build_record(
            seq + 1,
            previous_hash,
            command,
            arguments,
            source_identity,
            target_identity,
            counts,
            outcome,
            error_code,
        )
        # Human-readable field order in the file; the hash uses the canonical (sorted) form.
        data = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # the previous write was cut off: never glue onto it
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        _write_head(directory, record["seq"], record["hash"])
        return record
    finally:
        os.close(fd)  # also releases the lock


# --- verification --------------------------------------------------------------------------

_MAX_PROBLEMS = 1000


def _check_line(
    n: int, obj: dict[str, Any], prev: tuple[int, int, str] | None, first: bool
) -> list[str]:
    """Problems of record `obj` on line `n`; `prev` is (line, seq, hash) of the line before."""
    problems = []
    seq, hash_ = obj["seq"], obj["hash"]
    if record_hash(obj) != hash_:
        problems.append(f"line {n}: hash does not match its content (edited)")
    if first:
        if obj.get("previousHash") != GENESIS_HASH:
            problems.append(f"line {n}: previousHash is not the start value (records removed)")
        if seq != 1:
            problems.append(f"line {n}: seq {seq}, expected 1 (records removed from the start)")
    elif prev is not None:
        prev_line, prev_seq, prev_hash = prev
        if obj.get("previousHash") != prev_hash:
            problems.append(
                f"line {n}: previousHash does not match line {prev_line} (removed or reordered)"
            )
        if seq > prev_seq + 1:
            problems.append(f"line {n}: seq {seq} follows {prev_seq} (a record is missing)")
        elif seq <= prev_seq:
            problems.append(f"line {n}: seq {seq} follows {prev_seq} (reordered or inserted)")
    return problems


def _check_head(directory: Path, last: tuple[int, str] | None, records: int) -> list[str]:
    head_path = directory / HEAD_NAME
    if not head_path.exists():
        return [f"{HEAD_NAME} is missing: the last record cannot be vouched for"] if records else []
    head = _read_head(directory)
    if head is None:
        return [f"{HEAD_NAME} is not valid"]
    if last is None:
        return [f"{HEAD_NAME} records seq {head[0]} but the log has no readable last record"]
    if last == head:
        return []
    if last[0] < head[0]:
        return [
            f"last record is seq {last[0]} but {HEAD_NAME} records seq {head[0]} "
            "(the last record was removed)"
        ]
    if last[0] == head[0]:
        return [f"last record seq {last[0]} differs from {HEAD_NAME} (the last record replaced)"]
    return [
        f"last record seq {last[0]} is newer than {HEAD_NAME} (seq {head[0]}): "
        "an append was interrupted, or a record was added at the end"
    ]


def verify(directory: Path) -> VerifyResult:
    """Reads the whole log line by line and reports every break in the chain."""
    problems: list[str] = []
    records = 0
    prev: tuple[int, int, str] | None = None  # (line, seq, hash) of the last readable record
    last: tuple[int, str] | None = None
    path = directory / LOG_NAME
    if not path.exists():
        if (directory / HEAD_NAME).exists():
            return VerifyResult(False, 0, [f"{LOG_NAME} is missing but {HEAD_NAME} exists"])
        return VerifyResult(ok=True, records=0)
    with open(path, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)  # no half-written append, head in step with log
        for n, line in enumerate(f, start=1):
            records += 1
            obj = _parse(line)
            if obj is None:
                problems.append(f"line {n}: not valid JSON")
                prev = last = None  # the chain cannot be followed across this line
                continue
            missing = REQUIRED_FIELDS - obj.keys()
            link = _link(obj)
            if missing or link is None:
                what = ", ".join(sorted(missing)) or "seq/hash types"
                problems.append(f"line {n}: not an audit record (missing or wrong: {what})")
                prev = last = None
                continue
            problems.extend(_check_line(n, obj, prev, first=n == 1))
            prev, last = (n, *link), link
            if len(problems) > _MAX_PROBLEMS:
                break
        problems.extend(_check_head(directory, last, records))
    if len(problems) > _MAX_PROBLEMS:
        problems = [*problems[:_MAX_PROBLEMS], "... further problems not listed"]
    return VerifyResult(ok=not problems, records=records, problems=problems)
