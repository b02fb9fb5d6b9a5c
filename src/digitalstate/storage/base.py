"""The declarative base every feature's models.py builds on."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that migrations can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


MODEL_MODULES: tuple[str, ...] = (
    "digitalstate.exchange.models",
    "digitalstate.federation.models",
    "digitalstate.identity.models",
    "digitalstate.registers.models",
    "digitalstate.transparency.models",
    "digitalstate.consent.models",
    "digitalstate.tellusonce.models",
    "digitalstate.services.models",
    "digitalstate.staff.models",
    "digitalstate.web.models",
    "digitalstate.mail.models",
    "digitalstate.prisons.models",
    "digitalstate.spending.models",
    "digitalstate.publishing.models",
    "digitalstate.opendata.models",
    "digitalstate.electoral.models",
    "digitalstate.performance.models",
    "digitalstate.feedback.models",
)
"""Every module that defines tables; a feature adds its models.py here."""


def load_models() -> None:
    """Import every feature's models so that Base.metadata is complete."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
