"""`migration.deployment` and `migration.id_derivation`: the key of the legacy-id -> UUID
derivation for this target, and which layout of it the target uses."""

from __future__ import annotations

import hashlib
import hmac
import os

from ..errors import Code, CriticalError
from ._conn import Conn


def fingerprint(secret: bytes) -> str:
    return hashlib.sha256(b"mdw-migrate id secret fingerprint:" + secret).hexdigest()[:16]


def id_secret(conn: Conn, from_env: str | None) -> bytes:
    """The key of the legacy-id -> UUID derivation for this deployment, created on first use.

    With MDW_ID_SECRET set, it is the key and only its fingerprint is stored; otherwise a
    random key is created once and kept in `migration.deployment`. Either way the key never
    changes for a target, so the same legacy row always gets the same UUID, even after a
    rollback; a different MDW_ID_SECRET than the one first used is refused.
    """
    secret = existing_id_secret(conn, from_env)
    if secret is not None:
        return secret
    env_secret = from_env.encode() if from_env else None
    secret = env_secret or os.urandom(32)
    conn.execute(
        "INSERT INTO migration.deployment (id_secret, id_secret_fingerprint) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING",
        [None if env_secret else secret, fingerprint(secret)],
    )
    # A new deployment takes the current layout, in the transaction that creates its key.
    conn.execute(
        "INSERT INTO migration.id_derivation (uuid_layout) VALUES (%s) ON CONFLICT DO NOTHING",
        [CURRENT_LAYOUT],
    )
    return id_secret(conn, from_env)


# Layout 2: the first 4 bytes of a UUID come from its legacy id's block (sqlgen.uuid_expr).
CURRENT_LAYOUT = 2
# What a deployment made before migration.id_derivation existed uses, for good.
ORIGINAL_LAYOUT = 1


def uuid_layout(conn: Conn) -> int:
    """The deployment's layout: its recorded one, or the original layout for a deployment
    made before layouts were recorded (recorded then, when the connection may write)."""
    row = conn.execute("SELECT uuid_layout FROM migration.id_derivation").fetchone()
    if row is not None:
        return int(row[0])
    deployed = conn.execute("SELECT 1 FROM migration.deployment").fetchone()
    return ORIGINAL_LAYOUT if deployed is not None else CURRENT_LAYOUT


def record_layout(conn: Conn) -> int:
    """At a run's start: makes the layout explicit for a deployment made before it was."""
    layout = uuid_layout(conn)
    conn.execute(
        "INSERT INTO migration.id_derivation (uuid_layout) VALUES (%s) ON CONFLICT DO NOTHING",
        [layout],
    )
    return layout


def existing_id_secret(conn: Conn, from_env: str | None) -> bytes | None:
    """The deployment's key, checked against MDW_ID_SECRET when that is set; None when the
    target was never migrated (validation then has no UUID to recompute)."""
    env_secret = from_env.encode() if from_env else None
    row = conn.execute(
        "SELECT id_secret, id_secret_fingerprint FROM migration.deployment"
    ).fetchone()
    if row is None:
        return None
    stored, stored_fingerprint = row
    if env_secret is not None:
        if not hmac.compare_digest(fingerprint(env_secret), stored_fingerprint):
            raise CriticalError(
                code=Code.ID_SECRET_MISMATCH,
                message="MDW_ID_SECRET is not the secret this target was first migrated with",
                suggestion=(
                    "Set MDW_ID_SECRET to the original secret (UUIDs of migrated rows depend"
                    " on it), or unset it to use the one stored in migration.deployment"
                ),
            )
        return env_secret
    if stored is None:
        raise CriticalError(
            code=Code.ID_SECRET_MISSING,
            message="This target was migrated with MDW_ID_SECRET, which is not set now",
            suggestion="Set MDW_ID_SECRET to the secret used for the first migration",
        )
    return bytes(stored)
