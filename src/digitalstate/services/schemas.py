"""The JSON bodies of a service node's API (/api/v1): its services and a person's applications.

The names follow GovStack's Registration building block where it has the same thing (a
service, its e-form, an application with its status), so that an adapter stays thin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ServiceLinks(BaseModel):
    """Where a service's pages and e-form are (absolute URLs); None when it has none here."""

    start: str | None = Field(description="the start page")
    eform: str | None = Field(description="the JSON Schema of its answers")


class ServiceSummary(BaseModel):
    """One service this node declares."""

    slug: str
    kind: Literal["application", "details"] = Field(
        description="application: pages of questions and a reference; details: check your details"
    )
    title: dict[str, str] = Field(description="by language: en, and cy for a Welsh service")
    description: dict[str, str]
    purpose: str = Field(description="the purpose code of the federation's catalogue")
    languages: list[str]
    links: ServiceLinks


class ServiceList(BaseModel):
    """GET /api/v1/services."""

    member: str = Field(description="the node's member id")
    services: list[ServiceSummary]


class ApplicationEventOut(BaseModel):
    """One step of an application's history."""

    at: datetime
    status: str
    reason: str | None
    by: str = Field(description="person, helper, a staff role, or action:<name>")


class ApplicationFileOut(BaseModel):
    """A file given as an answer (its bytes are not served here)."""

    question: str
    name: str
    type: str
    size: int
    sha256: str


class ApplicationOut(BaseModel):
    """An application, as listed."""

    reference: str
    service: str = Field(description="the service's slug")
    title: str
    status: Literal["submitted", "in-review", "approved", "refused", "withdrawn"]
    channel: Literal["digital", "assisted", "helper"]
    submitted_at: datetime
    updated_at: datetime
    page: str = Field(description="the application's page for the person")


class ApplicationDetail(ApplicationOut):
    """One application, with what was submitted and its history."""

    answers: dict[str, Any] = Field(description="question id to answer, as the e-form says")
    sources: dict[str, Any] = Field(
        description='"entered", or the register, field, consent and read time of a pre-filled one'
    )
    language: str
    events: list[ApplicationEventOut]
    files: list[ApplicationFileOut]


class ApplicationList(BaseModel):
    """GET /api/v1/applications: the signed-in person's applications here, newest first."""

    applications: list[ApplicationOut]
