"""The JSON bodies of a register's exchange routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FieldName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", max_length=100)
]
Pseudonym = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{1,64}$")]
MemberId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")]


class ReadBody(BaseModel):
    """POST /exchange/v1/records/read: the fields asked for; subject only on a basis read."""

    model_config = ConfigDict(extra="forbid")

    fields: list[FieldName] = Field(min_length=1, max_length=50)
    subject: Pseudonym | None = None
    on_behalf_of: MemberId | None = None


MatchValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class MatchBody(BaseModel):
    """POST /exchange/v1/records/match: the values to compare with the person's record."""

    model_config = ConfigDict(extra="forbid")

    values: dict[FieldName, MatchValue] = Field(min_length=1, max_length=10)
    subject: Pseudonym | None = None
    on_behalf_of: MemberId | None = None

    @property
    def fields(self) -> list[str]:
        """The fields compared, as a read names them."""
        return list(self.values)
