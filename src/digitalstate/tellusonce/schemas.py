"""The body of a change notice, as a register sends it (docs/adr/0008): no personal data."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from digitalstate.federation.domain import MEMBER_ID_PATTERN

FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", max_length=100)]


class NoticeBody(BaseModel):
    """A change notice: which consent, which register, which fields changed, the new version."""

    model_config = ConfigDict(extra="forbid")

    consent_id: str = Field(min_length=1, max_length=36)
    holder: str = Field(pattern=MEMBER_ID_PATTERN)
    fields: list[FieldName] = Field(min_length=1, max_length=100)
    version: int = Field(ge=0)
    idempotency_key: str = Field(min_length=1, max_length=64)
