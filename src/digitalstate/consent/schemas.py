"""The JSON bodies of the consent feature's exchange routes (consent/api.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class ConsentRequestBody(BaseModel):
    """A service's request to ask a person for consent (docs/adr/0008)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(description="the caller's pseudonym for the person")
    holder: str = Field(description="the register that holds the fields")
    fields: list[str] = Field(description="field names from the field catalogue")
    purpose: str = Field(description="a purpose code from the purpose catalogue")
    duration_days: int = Field(description="how long the consent lasts, 1 to 3650 days")
    notify: bool = Field(False, description="tell the caller when the fields change")
    return_url: str = Field(description="where the person goes back to; under the caller's URL")


class OutcomeBody(BaseModel):
    """A service's question: did this consent answer my request? (docs/adr/0012)."""

    model_config = ConfigDict(extra="forbid")

    consent_id: str = Field(
        min_length=1, max_length=36, description="the consent id the browser brought back"
    )


class BasisReadBody(BaseModel):
    """A read under a statutory basis, relayed by the charter (docs/adr/0008)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(description="the caller's pseudonym for the person")
    holder: str = Field(description="the register to read from")
    fields: list[str] = Field(min_length=1, description="field names the basis lists")


MatchValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class BasisMatchBody(BaseModel):
    """A match under a statutory basis, relayed by the charter: are these values the person's?"""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(description="the caller's pseudonym for the person")
    holder: str = Field(description="the register to compare with")
    values: dict[str, MatchValue] = Field(
        min_length=1, max_length=10, description="field name -> the value to compare"
    )

    @property
    def fields(self) -> list[str]:
        """The fields compared: the basis must list each, as for a read."""
        return list(self.values)
