"""What the charter keeps of a sign-in on its way: authorization codes, the ids of the client
assertions used, and ID token claims.

The caller owns the transaction. Codes live CODE_SECONDS and are spent on first use; a client
assertion's jti is used once, until the assertion expires. Both are rows in the node's
database, so a use at one worker is a use at every worker, and after a restart.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from digitalstate.identity.models import AuthorizationCode, Person, UsedAssertionId
from digitalstate.identity.service import pseudonym_for
from digitalstate.node.runtime import NodeRuntime
from digitalstate.storage.engine import dialect_insert

CODE_SECONDS = 60
ID_TOKEN_SECONDS = 300
ACR_PREFIX = "urn:digitalstate:loa:"
LEVELS_OF_ASSURANCE = ("low", "medium", "high")
# act_until: when the delegation a helper signs in under ends (NumericDate); only with act.
ID_TOKEN_CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "act",
    "act_until",
)


def sha256_hex(text: str) -> str:
    """The SHA-256 (hex) of text: what a key holds of a value the client chose."""
    return hashlib.sha256(text.encode()).hexdigest()


def store_code(session: Session, row: AuthorizationCode, now: datetime) -> None:
    """Keep a new code until CODE_SECONDS from now; drop codes that expired long ago.

    Raises IntegrityError when a code of the same client already carries the same nonce (two
    authorization requests with one nonce at once, at two workers): the unique key decides.
    """
    row.expires_at = now + timedelta(seconds=CODE_SECONDS)
    row.used = False
    row.nonce_hash = sha256_hex(row.nonce)
    session.execute(
        delete(AuthorizationCode).where(AuthorizationCode.expires_at < now - timedelta(hours=1))
    )
    session.add(row)
    session.flush()


def spend_code(
    session: Session, code: str, client_id: str, now: datetime
) -> AuthorizationCode | None:
    """Mark code used; the code when it was unused, unexpired and client_id's, else None."""
    # An UPDATE only an unused code matches: of two requests racing with one code, one wins.
    spent = session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code == code, AuthorizationCode.used.is_(False))
        .values(used=True)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.get(AuthorizationCode, code)
    if row is None or row.client_id != client_id or row.expires_at <= now:
        return None
    return row


def forget_code(session: Session, code: str) -> None:
    """Delete a spent code."""
    session.execute(delete(AuthorizationCode).where(AuthorizationCode.code == code))


def nonce_in_use(session: Session, client_id: str, nonce: str) -> bool:
    """True when a code of client_id still carries nonce (a replayed request)."""
    found = session.scalar(
        select(AuthorizationCode.code).where(
            AuthorizationCode.client_id == client_id,
            AuthorizationCode.nonce_hash == sha256_hex(nonce),
        )
    )
    return found is not None


def first_use_of_assertion(
    session: Session, client_id: str, jti: str, keep_until: int, now: int, grace: int
) -> bool:
    """Keep client_id's assertion id jti until keep_until (Unix s); False when it was kept before.

    One INSERT ... ON CONFLICT DO NOTHING on the primary key (client, jti): of two workers
    taking the same jti at once, PostgreSQL lets one insert and makes the other wait for its
    commit, then do nothing; SQLite has one writer at a time. Rows that expired more than grace
    seconds ago (another worker's clock may lag) go in the same transaction.
    """
    session.execute(delete(UsedAssertionId).where(UsedAssertionId.expires_at < now - grace))
    table = UsedAssertionId.__table__
    statement = (
        dialect_insert(session.get_bind().dialect.name)(table)
        .values(
            client_id=client_id,
            jti_hash=sha256_hex(jti),
            expires_at=keep_until,
        )
        .on_conflict_do_nothing()
        .returning(table.c.client_id)
    )
    return session.execute(statement).first() is not None


def id_token_claims(
    session: Session,
    node: NodeRuntime,
    *,
    client_id: str,
    person_id: str,
    helper_id: str | None,
    nonce: str,
    auth_time: datetime,
    now: int,
    acting_until: datetime | None = None,
) -> dict[str, Any]:
    """The claims of an ID token for client_id: pairwise sub, acr and, for a helper, act.

    A helper's token also says when their delegation ends (act_until), so that the node can
    end the session then. The pseudonyms given are recorded, so that the charter can map them
    back.
    """
    signer = session.get(Person, helper_id or person_id)
    claims: dict[str, Any] = {
        "iss": node.settings.node.base_url,
        "aud": client_id,
        "sub": pseudonym_for(node, client_id, person_id, session=session, record=True),
        "nonce": nonce,
        "iat": now,
        "exp": now + ID_TOKEN_SECONDS,
        "auth_time": int(auth_time.timestamp()),
        # The assurance of whoever proved who they are: the helper, when one signs in.
        "acr": ACR_PREFIX + (signer.level_of_assurance if signer else "low"),
    }
    if helper_id is not None:
        helper = pseudonym_for(node, client_id, helper_id, session=session, record=True)
        claims["act"] = {"sub": helper}
        if acting_until is not None:
            claims["act_until"] = int(acting_until.timestamp())
    return claims
