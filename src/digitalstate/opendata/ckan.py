"""The portal's catalogue as CKAN's Action API shows it: packages, organisations, resources,
and package_search's query, filters, sort and facets (docs/opendata.md#the-ckan-api).

Pure: the catalogue is built from the harvested packages (a CKAN package per dataset, an
organisation per publishing member) and searched in memory; nothing here reaches a database,
so nothing a caller sends is ever executed as a query. What CKAN clients send that this does
not understand is refused with CKAN's error types (SearchError below).
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any

CATALOGUE_PATH = "/catalogue"  # where opendata/pages.py serves the catalogue
ROWS_DEFAULT = 10
ROWS_MAX = 1000
FACET_LIMIT_DEFAULT = 50
# fq's fields, and the facet.field names, as CKAN (Solr) names them.
FACETS = ("organization", "tags", "res_format", "license_id", "groups")
FQ_FIELDS = frozenset({*FACETS, "name", "id"})
SORTS = frozenset({"score", "name", "title", "metadata_modified", "metadata_created"})
MAX_QUERY_CHARS = 500
FACET_TITLES = {
    "organization": "Organizations",
    "tags": "Tags",
    "res_format": "Formats",
    "license_id": "Licenses",
    "groups": "Groups",
}


class SearchError(ValueError):
    """A search CKAN would refuse: error_type is CKAN's __type, field the parameter."""

    def __init__(self, field: str, message: str, error_type: str = "Validation Error") -> None:
        super().__init__(message)
        self.field = field
        self.error_type = error_type


@dataclass(frozen=True)
class Harvested:
    """A dataset's current version at the portal: its package and where it came from."""

    publisher: str
    publisher_name: str
    dataset: str
    package: Mapping[str, Any]
    first_harvested_at: datetime
    harvested_at: datetime


@dataclass(frozen=True)
class Organisation:
    """A publishing member as a CKAN organisation."""

    name: str
    title: str
    packages: tuple[str, ...]

    def shown(self) -> dict[str, Any]:
        """The organisation as organization_show gives it."""
        return {
            "id": self.name,
            "name": self.name,
            "title": self.title,
            "display_name": self.title,
            "description": f"Datasets published by {self.title}.",
            "type": "organization",
            "is_organization": True,
            "state": "active",
            "approval_status": "approved",
            "image_url": "",
            "package_count": len(self.packages),
        }


def resource_id(publisher: str, dataset: str, resource: str) -> str:
    """A resource's id at the portal, the same across versions."""
    return f"{publisher}.{dataset}.{resource}"


def download_url(base: str, publisher: str, dataset: str, resource: str, kind: str) -> str:
    """Where the portal serves a resource of a dataset's current version (base: the portal's
    public address; opendata/pages.py serves it)."""
    return f"{base}{CATALOGUE_PATH}/{publisher}/{dataset}/{resource}.{kind}"


def package_of(item: Harvested, base: str = "") -> dict[str, Any]:
    """The dataset as a CKAN package (package_show's result).

    A resource's url is the portal's own download of its CSV file (as a CKAN portal gives its
    datastore resources), under base, the portal's public address; the member's file it was
    harvested from is its source_url.
    """
    pkg = item.package
    name = f"{item.publisher}-{item.dataset}"
    licence = (pkg.get("licenses") or [{}])[0]
    tags = [str(k) for k in pkg.get("keywords", [])]
    themes = [str(t) for t in pkg.get("x-themes", [])]
    resources = [
        {
            "id": resource_id(item.publisher, item.dataset, str(r["name"])),
            "package_id": name,
            "name": str(r.get("title") or r["name"]),
            "description": str(r.get("description", "")),
            "format": "CSV",
            "mimetype": "text/csv",
            "url": download_url(base, item.publisher, item.dataset, str(r["name"]), "csv"),
            "source_url": str(r.get("path", "")),
            "size": r.get("bytes"),
            "hash": str(r.get("hash", "")),
            "position": position,
            "datastore_active": True,
            "state": "active",
            "last_modified": item.harvested_at.isoformat(),
            "schema": r.get("schema", {}),
        }
        for position, r in enumerate(pkg.get("resources", []))
    ]
    return {
        "id": name,
        "name": name,
        "title": str(pkg.get("title") or item.dataset),
        "notes": str(pkg.get("description", "")),
        "version": str(pkg.get("version", "")),
        "url": str(pkg.get("homepage", "")),
        "type": "dataset",
        "state": "active",
        "private": False,
        "license_id": str(licence.get("name", "")),
        "license_title": str(licence.get("title", "")),
        "license_url": str(licence.get("path", "")),
        "author": item.publisher_name,
        "maintainer": item.publisher_name,
        "owner_org": item.publisher,
        "organization": {
            "id": item.publisher,
            "name": item.publisher,
            "title": item.publisher_name,
            "type": "organization",
            "is_organization": True,
        },
        "metadata_created": item.first_harvested_at.isoformat(),
        "metadata_modified": item.harvested_at.isoformat(),
        "tags": [{"name": t, "display_name": t} for t in tags],
        "num_tags": len(tags),
        "groups": [{"name": t, "title": t, "display_name": t} for t in themes],
        "resources": resources,
        "num_resources": len(resources),
        "extras": [
            {"key": "update_frequency", "value": str(pkg.get("x-update-frequency", ""))},
            {"key": "publisher", "value": item.publisher},
        ],
    }


def facet_values(package: Mapping[str, Any], name: str) -> list[str]:
    """The values package has for a facet (or fq field)."""
    if name == "organization":
        return [package["organization"]["name"]]
    if name == "tags":
        return [t["name"] for t in package["tags"]]
    if name == "groups":
        return [g["name"] for g in package["groups"]]
    if name == "res_format":
        return sorted({r["format"] for r in package["resources"]})
    if name == "license_id":
        return [package["license_id"]]
    return [str(package.get(name, ""))]


@dataclass
class Catalogue:
    """Every dataset's current version, as CKAN packages, and the publishing organisations.

    Built once per change of the current versions (opendata/service.py's Shelf) and then only
    read, by any number of threads: its packages by id, its resources by id and its search
    index (Index) are made when it is.
    """

    packages: list[dict[str, Any]] = field(default_factory=list)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    index: Index = field(init=False, repr=False)
    _packages: dict[str, dict[str, Any]] = field(init=False, repr=False)
    _resources: dict[str, dict[str, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._packages, self._resources = {}, {}
        for p in self.packages:
            self._packages.setdefault(p["id"], p)
            for r in p["resources"]:
                self._resources.setdefault(r["id"], r)
        self.index = Index.of(self.packages)

    @classmethod
    def of(cls, harvested: Iterable[Harvested], base: str = "") -> Catalogue:
        """The catalogue of these datasets, served at base (the portal's public address)."""
        packages = sorted((package_of(h, base) for h in harvested), key=lambda p: p["name"])
        titles: dict[str, str] = {}
        names: dict[str, list[str]] = {}
        for p in packages:
            org = p["organization"]
            titles[org["name"]] = org["title"]
            names.setdefault(org["name"], []).append(p["name"])
        return cls(
            packages,
            {n: Organisation(n, titles[n], tuple(names[n])) for n in sorted(names)},
        )

    def package(self, id_or_name: str) -> dict[str, Any] | None:
        """The package with this id or name."""
        return self._packages.get(id_or_name)

    def resource(self, id_: str) -> dict[str, Any] | None:
        """The resource with this id."""
        return self._resources.get(id_)


@dataclass(frozen=True)
class Index:
    """What package_search reads instead of every package's text: each package's words (an
    inverted index of the words of its name, title, notes, organisation, tags and resources),
    each filterable field's values, and each sort field's order, by the package's position."""

    hays: tuple[str, ...]
    titles: tuple[str, ...]
    words: dict[str, tuple[int, ...]]
    values: dict[str, tuple[tuple[str, ...], ...]]
    having: dict[str, dict[str, tuple[int, ...]]]
    ranks: dict[str, tuple[int, ...]]

    @classmethod
    def of(cls, packages: list[dict[str, Any]]) -> Index:
        """The index of packages, in their order."""
        hays = tuple(_haystack(p) for p in packages)
        words: dict[str, list[int]] = {}
        for position, hay in enumerate(hays):
            for word in set(hay.split()):
                words.setdefault(word, []).append(position)
        values = {
            name: tuple(tuple(facet_values(p, name)) for p in packages)
            for name in sorted(FQ_FIELDS)
        }
        having: dict[str, dict[str, list[int]]] = {name: {} for name in values}
        for name, each in values.items():
            for position, found in enumerate(each):
                for value in dict.fromkeys(found):
                    having[name].setdefault(value, []).append(position)
        ranks = {}
        for name in SORTS - {"score"}:
            keys = [str(p[name]).lower() for p in packages]
            rank = {key: n for n, key in enumerate(sorted(set(keys)))}
            ranks[name] = tuple(rank[key] for key in keys)
        return cls(
            hays,
            tuple(str(p["title"]).lower() for p in packages),
            {word: tuple(positions) for word, positions in words.items()},
            values,
            {name: {v: tuple(ps) for v, ps in by.items()} for name, by in having.items()},
            ranks,
        )

    def containing(self, term: str) -> set[int]:
        """The packages whose text has term in it (a term has no spaces, so it is within one
        word: the words containing it are looked up, not every package's text read)."""
        found: set[int] = set()
        for word, positions in self.words.items():
            if term in word:
                found.update(positions)
        return found

    def score(self, position: int, terms: list[str]) -> int:
        """How well the package at position matches terms (a term in its title counts more)."""
        hay, title = self.hays[position], self.titles[position]
        return sum(hay.count(t) + 4 * title.count(t) for t in terms)


@dataclass(frozen=True)
class Search:
    """package_search's parameters, checked."""

    q: str = ""
    fq: tuple[tuple[str, str], ...] = ()
    rows: int = ROWS_DEFAULT
    start: int = 0
    sort: tuple[tuple[str, bool], ...] = (("score", True), ("metadata_modified", True))
    facets: tuple[str, ...] = ()
    facet_limit: int = FACET_LIMIT_DEFAULT
    warnings: tuple[str, ...] = ()


def integer(value: Any, name: str, default: int, *, least: int = 0) -> int:
    """A whole-number parameter (a string from a query, or a number from JSON)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SearchError(name, f"{name} must be a whole number")
    try:
        number = int(value)
    except ValueError:
        raise SearchError(name, f"{name} must be a whole number") from None
    if number < least:
        raise SearchError(name, f"{name} must be at least {least}")
    return number


def text(value: Any, name: str) -> str:
    """A text parameter, bounded."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SearchError(name, f"{name} must be text")
    if len(value) > MAX_QUERY_CHARS:
        raise SearchError(name, f"{name} is longer than {MAX_QUERY_CHARS} characters")
    return value


def listed(value: Any, name: str) -> list[str]:
    """A list parameter: a JSON list, or text holding one ('["a","b"]') or a single name."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.startswith("[") else [value]
        except ValueError:
            raise SearchError(name, f"{name} must be a JSON list of names") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SearchError(name, f"{name} must be a list of names")
    return [text(v, name) for v in value]


FQ_TERM = re.compile(r"^([+-]?)([a-z_]+):(.+)$", re.DOTALL)


def parse_fq(fq: str) -> tuple[tuple[str, str], ...]:
    """fq as field:value terms ('organization:care tags:"social care"'), each field known."""
    try:
        terms = shlex.split(fq)
    except ValueError as exc:
        raise SearchError("fq", f"fq cannot be read: {exc}", "Search Query Error") from None
    out = []
    for term in terms:
        match = FQ_TERM.match(term)
        if match is None or match.group(1) == "-":
            raise SearchError(
                "fq",
                f"fq term {term[:60]!r} is not field:value; fields: {', '.join(sorted(FQ_FIELDS))}",
                "Search Query Error",
            )
        name, value = match.group(2), match.group(3)
        if name not in FQ_FIELDS:
            raise SearchError(
                "fq",
                f"fq cannot filter on {name!r}; fields: {', '.join(sorted(FQ_FIELDS))}",
                "Search Query Error",
            )
        out.append((name, value))
    return tuple(out)


def parse_sort(sort: str) -> tuple[tuple[str, bool], ...]:
    """sort as 'field asc|desc, ...' (descending: True), each field known."""
    out = []
    for part in sort.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or words[0] not in SORTS or words[-1] not in ("asc", "desc", words[0]):
            raise SearchError(
                "sort",
                f"cannot sort by {part.strip()[:60]!r}; use one of {', '.join(sorted(SORTS))}"
                " followed by asc or desc",
            )
        out.append((words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(out)


def search_of(params: Mapping[str, Any]) -> Search:
    """package_search's parameters checked; rows beyond ROWS_MAX clamped, the clamp stated."""
    rows = integer(params.get("rows"), "rows", ROWS_DEFAULT)
    warnings = []
    if rows > ROWS_MAX:
        warnings.append(f"rows {rows} is more than the most returned, {ROWS_MAX}: {ROWS_MAX} given")
        rows = ROWS_MAX
    facets = listed(params.get("facet.field"), "facet.field")
    unknown = [f for f in facets if f not in FACETS]
    if unknown:
        raise SearchError(
            "facet.field", f"cannot facet on {unknown[0]!r}; use one of {', '.join(FACETS)}"
        )
    sort = text(params.get("sort"), "sort")
    return Search(
        q=text(params.get("q"), "q").strip(),
        fq=parse_fq(text(params.get("fq"), "fq")),
        rows=rows,
        start=integer(params.get("start"), "start", 0),
        sort=parse_sort(sort) if sort.strip() else Search.sort,
        facets=tuple(facets),
        facet_limit=integer(params.get("facet.limit"), "facet.limit", FACET_LIMIT_DEFAULT),
        warnings=tuple(warnings),
    )


def _haystack(p: Mapping[str, Any]) -> str:
    words = [p["name"], p["title"], p["notes"], p["organization"]["title"]]
    words += [t["name"] for t in p["tags"]] + [r["name"] for r in p["resources"]]
    return " ".join(words).lower()


def search(catalogue: Catalogue, s: Search) -> dict[str, Any]:
    """package_search's result: count, the page of results, facets and search_facets.

    A package is found when it has every fq value and every term of q in its text; the found
    are in catalogue order, then sorted by each of s.sort (stable, the last first).
    """
    index = catalogue.index
    terms = [t.lower() for t in s.q.replace(":", " ").split() if t != "*"]
    chosen: set[int] | None = None
    for name, value in s.fq:
        having = set(index.having[name].get(value, ()))
        chosen = having if chosen is None else chosen & having
    for term in terms:
        containing = index.containing(term)
        chosen = containing if chosen is None else chosen & containing
    positions = list(range(len(catalogue.packages))) if chosen is None else sorted(chosen)
    for name, descending in reversed(s.sort):
        if name == "score":
            if terms:  # with no terms every score is 0: the order stays
                scores = {at: index.score(at, terms) for at in positions}
                positions.sort(key=scores.__getitem__, reverse=descending)
        else:
            positions.sort(key=index.ranks[name].__getitem__, reverse=descending)
    counted = {
        name: Counter(chain.from_iterable(map(index.values[name].__getitem__, positions)))
        for name in s.facets
    }
    found = catalogue.packages
    page = [found[at] for at in positions[s.start : s.start + s.rows]]
    result: dict[str, Any] = {
        "count": len(positions),
        "results": page,
        "sort": ", ".join(f"{n} {'desc' if d else 'asc'}" for n, d in s.sort),
        "rows": s.rows,
        "facets": {name: dict(c.most_common(s.facet_limit)) for name, c in counted.items()},
        "search_facets": {
            name: {
                "title": FACET_TITLES[name],
                "items": [
                    {"name": v, "display_name": v, "count": n}
                    for v, n in c.most_common(s.facet_limit)
                ],
            }
            for name, c in counted.items()
        },
    }
    if s.warnings:
        result["warnings"] = list(s.warnings)
    return result


ROW_ID = "_id"  # CKAN's row id: each record's, from 1, in the order of the resource's file
LIMIT_DEFAULT = 100
LIMIT_MAX = 32_000  # CKAN's ckan.datastore.search.rows_max
MAX_FILTER_VALUES = 100


@dataclass(frozen=True)
class Datastore:
    """datastore_search's parameters, checked against the resource's columns."""

    fields: tuple[str, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    q: str = ""
    q_fields: tuple[tuple[str, str], ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()
    limit: int = LIMIT_DEFAULT
    offset: int = 0
    include_total: bool = True
    warnings: tuple[str, ...] = ()


def _column(name: Any, columns: list[str], parameter: str) -> str:
    if not isinstance(name, str) or name not in columns:
        shown = str(name)[:60]
        raise SearchError(parameter, f"field {shown!r} is not a column of the resource")
    return name


def _object(value: Any, name: str) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            raise SearchError(name, f"{name} must be a JSON object") from None
    return value


def datastore_of(params: Mapping[str, Any], columns: list[str]) -> Datastore:
    """datastore_search's parameters checked: every column named must be the resource's;
    limit beyond LIMIT_MAX clamped, the clamp stated."""
    fields_given = params.get("fields")
    if isinstance(fields_given, str):
        fields_given = [f.strip() for f in fields_given.split(",") if f.strip()]
    fields = (
        tuple(_column(f, columns, "fields") for f in fields_given)
        if fields_given
        else tuple(columns)
    )
    filters_given = _object(params.get("filters") or {}, "filters")
    if not isinstance(filters_given, dict):
        raise SearchError("filters", "filters must be an object of column: value")
    filters = []
    for column, value in filters_given.items():
        values = value if isinstance(value, list) else [value]
        if len(values) > MAX_FILTER_VALUES or not all(
            isinstance(v, str | int | float | bool) for v in values
        ):
            raise SearchError("filters", f"filter {str(column)[:60]!r} must be values")
        filters.append((_column(column, columns, "filters"), tuple(_plain(v) for v in values)))
    q_given = _object(params.get("q") or "", "q")
    q, q_fields = "", []
    if isinstance(q_given, dict):
        q_fields = [(_column(c, columns, "q"), text(v, "q")) for c, v in q_given.items()]
    else:
        q = text(q_given if isinstance(q_given, str) else str(q_given), "q")
    sort = []
    for part in text(params.get("sort"), "sort").split(","):
        words = part.split()
        if not words:
            continue
        name = words[0].strip('"')
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise SearchError("sort", f"cannot sort by {part.strip()[:60]!r}")
        descending = len(words) == 2 and words[1].lower() == "desc"
        sort.append((_column(name, columns, "sort"), descending))
    limit = integer(params.get("limit"), "limit", LIMIT_DEFAULT)
    warnings = []
    if limit > LIMIT_MAX:
        warnings.append(
            f"limit {limit} is more than the most returned, {LIMIT_MAX}: {LIMIT_MAX} given"
        )
        limit = LIMIT_MAX
    total = params.get("include_total", True)
    return Datastore(
        fields=fields,
        filters=tuple(filters),
        q=q,
        q_fields=tuple(q_fields),
        sort=tuple(sort),
        limit=limit,
        offset=integer(params.get("offset"), "offset", 0),
        include_total=total not in (False, "false", "False", "0", 0),
        warnings=tuple(warnings),
    )


def _plain(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
