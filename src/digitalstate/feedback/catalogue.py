"""What a story can be about: this node's declared services, this node, and the other nodes
of the federation document the node holds now."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from digitalstate.federation.domain import FederationDocument
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.web.i18n import _

SERVICE_PREFIX = "service:"
NODE_PREFIX = "node:"


@dataclass(frozen=True)
class Catalogue:
    """This node's services and the federation's members, as the feedback pages name them."""

    member: str
    name: str
    services: Mapping[str, ServiceDefinition]
    document: Callable[[], FederationDocument | None]

    def title(self, slug: str, lang: str = "en") -> str:
        """The title of this node's service slug, in lang when it has it (else the slug)."""
        definition = self.services.get(slug)
        return definition.title.text(lang) if definition is not None else slug

    def member_name(self, member: str) -> str | None:
        """The name of a member of the federation, or None when the document has no such
        member (or the node holds no document)."""
        if member == self.member:
            return self.name
        document = self.document()
        found = document.member(member) if document is not None else None
        return found.name if found is not None else None

    def abouts(self, lang: str) -> list[tuple[str, str]]:
        """The choices of what a story is about: each service, this node, the other nodes."""
        choices = [
            (SERVICE_PREFIX + slug, self.title(slug, lang)) for slug in sorted(self.services)
        ]
        choices.append((NODE_PREFIX + self.member, _("%(name)s in general") % {"name": self.name}))
        document = self.document()
        others = [m for m in (document.members if document else []) if m.id != self.member]
        choices.extend((NODE_PREFIX + m.id, m.name) for m in sorted(others, key=lambda m: m.name))
        return choices

    def about(self, value: str) -> tuple[str, str | None] | None:
        """(node, service) of a form's choice, or None when it names no service of this node
        and no member of the federation."""
        kind, _colon, name = value.partition(":")
        if kind + ":" == SERVICE_PREFIX and name in self.services:
            return self.member, name
        if kind + ":" == NODE_PREFIX and self.member_name(name) is not None:
            return name, None
        return None

    def about_text(self, node: str, service: str | None, lang: str) -> str:
        """What a story is about, in words: the service's title, or the node's name."""
        if service is not None:
            return self.title(service, lang)
        return self.member_name(node) or node
