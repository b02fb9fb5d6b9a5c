"""Shared parts of the Tell Us Once tests: what a service has received."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.tellusonce.models import ReceivedNotice


def received_notices(sessions: sessionmaker[Session]) -> list[ReceivedNotice]:
    """Every notice the service on sessions has received."""
    with sessions.begin() as session:
        return list(session.scalars(select(ReceivedNotice)))
