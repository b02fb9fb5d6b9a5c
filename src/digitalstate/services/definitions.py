"""Service definition files: one TOML file per service, which a node's settings name.

    title = "Check your State Pension details"
    description = "See the address and date of birth we use to pay your State Pension."
    purpose = "pension-administration"
    fields = ["people.address", "people.date_of_birth"]
    # holder = "people-register"   notify = true   duration_days = 365  (the defaults)

A file that cannot be used is reported in one line naming the file, the key, what is wrong
and the fix (ServiceDefinitionError, a SettingsError: the node's settings name the file).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from digitalstate.federation.domain import MEMBER_ID_PATTERN, FederationDocument
from digitalstate.services.domain import (
    CONSENT_DAYS,
    PEOPLE_REGISTER,
    ServiceEntry,
    catalogue_problem,
)
from digitalstate.settings import SettingsError

MAX_FILE_BYTES = 64 * 1024
CATALOGUE_FIX = (
    "use a purpose and fields the federation document's catalogue lists "
    "(GET /.well-known/digitalstate/federation), or have the trust anchor's operator add them"
)
_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
}


class ServiceDefinitionError(SettingsError):
    """A service definition file that cannot be used; str() is the one-line message."""


class ServiceDefinition(BaseModel):
    """What one service definition file holds (the node's own id is the service's member)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: str = Field(min_length=1, max_length=200, description="the service's name")
    description: str = Field(min_length=1, max_length=2000, description="what it shows, why")
    purpose: str = Field(min_length=1, description="purpose code of the federation's catalogue")
    fields: list[str] = Field(min_length=1, description="catalogue fields the service reads")
    holder: str = Field(
        PEOPLE_REGISTER, pattern=MEMBER_ID_PATTERN, description="the register it reads them from"
    )
    notify: bool = Field(True, description="ask to be told when the fields change")
    duration_days: int = Field(
        CONSENT_DAYS, ge=1, le=3650, description="how long the person's consent lasts"
    )

    def entry(self, member: str) -> ServiceEntry:
        """The service as member runs it."""
        return ServiceEntry(
            member=member,
            title=self.title,
            description=self.description,
            purpose=self.purpose,
            fields=tuple(self.fields),
            holder=self.holder,
            notify=self.notify,
            duration_days=self.duration_days,
        )


def _describe(path: Path, exc: ValidationError) -> str:
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    where = ".".join(str(part) for part in error["loc"]) or "(file)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    fix = _FIXES.get(error["type"], "correct the value")
    return f"{path}: {where}: {error['msg']}; fix: {fix}{more}"


def load_service_definition(path: Path, member: str) -> ServiceEntry:
    """The service in the file at path, run by node member; ServiceDefinitionError if unusable."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise ServiceDefinitionError(
            f"{path}: no such service definition file; fix: write it, or correct "
            f"[services] files in the node's settings"
        ) from exc
    except OSError as exc:
        raise ServiceDefinitionError(f"{path}: cannot read the file ({exc.strerror})") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ServiceDefinitionError(
            f"{path}: larger than {MAX_FILE_BYTES} bytes; fix: a service definition is a few "
            f"lines, check that [services] files names the right file"
        )
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ServiceDefinitionError(
            f"{path}: not valid UTF-8 TOML ({exc}); fix the syntax at that line"
        ) from exc
    try:
        definition = ServiceDefinition.model_validate(data)
    except ValidationError as exc:
        raise ServiceDefinitionError(_describe(path, exc)) from exc
    return definition.entry(member)


def check_against(path: Path, entry: ServiceEntry, document: FederationDocument) -> str | None:
    """The one-line problem when document's catalogue lacks entry's purpose or fields."""
    problem = catalogue_problem(entry, document)
    if problem is None:
        return None
    key, what = problem
    return f"{path}: {key}: {what}; fix: {CATALOGUE_FIX}"
