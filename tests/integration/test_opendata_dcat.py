"""The portal's DCAT 3 catalogue (opendata/dcat.py) as Turtle and JSON-LD, parsed with rdflib:
every class has the properties DCAT-AP makes mandatory, and the distributions the checksums
and sizes the members' packages give."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

from integration.opendata_support import harvested_portal
from support.nodes import ServedNode

SPDX = "http://spdx.org/rdf/terms#"
# DCAT-AP's mandatory properties of each class (3.0; and 2.1's dcat:dataset on a catalogue).
MANDATORY = {
    DCAT.Catalog: (DCTERMS.title, DCTERMS.description, DCTERMS.publisher, DCAT.dataset),
    DCAT.Dataset: (DCTERMS.title, DCTERMS.description),
    DCAT.Distribution: (DCAT.accessURL,),
    FOAF.Agent: (FOAF.name,),
}


@pytest.fixture
def portal(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[ServedNode]:
    with harvested_portal(tmp_path, migrated_database_url, more_databases) as served:
        yield served


def fetched(portal: ServedNode, kind: str, rdf_format: str) -> Graph:
    answer = httpx.get(f"{portal.url}/catalogue.{kind}")
    assert answer.status_code == 200
    with warnings.catch_warnings():
        # rdflib 7.6's JSON-LD parser uses its own deprecated ConjunctiveGraph.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="rdflib")
        return Graph().parse(data=answer.text, format=rdf_format)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_catalogue_has_dcat_aps_mandatory_properties_in_turtle_and_json_ld(
    portal: ServedNode,
) -> None:
    turtle = fetched(portal, "ttl", "turtle")
    json_ld = fetched(portal, "jsonld", "json-ld")

    assert turtle.isomorphic(json_ld)
    for cls, properties in MANDATORY.items():
        things = set(turtle.subjects(RDF.type, cls))
        assert things, f"no {cls}"
        for thing in things:
            for prop in properties:
                assert turtle.value(thing, prop) is not None, f"{thing} has no {prop}"
    [catalogue] = turtle.subjects(RDF.type, DCAT.Catalog)
    datasets = set(turtle.objects(catalogue, DCAT.dataset))
    assert datasets == {
        URIRef(f"{portal.url}/catalogue/birmingham-care/spending"),
        URIRef(f"{portal.url}/catalogue/leeds-housing/spending"),
    }
    care = URIRef(f"{portal.url}/catalogue/birmingham-care/spending")
    publisher = turtle.value(care, DCTERMS.publisher)
    assert str(turtle.value(publisher, FOAF.name)) == "Birmingham: social care"
    assert str(turtle.value(care, URIRef(str(DCAT) + "version"))) == "1.0.0"
    csv = URIRef(f"{portal.url}/catalogue/birmingham-care/spending/payments.csv#distribution")
    assert csv in set(turtle.objects(care, DCAT.distribution))
    download = httpx.get(str(turtle.value(csv, DCAT.downloadURL)))
    assert download.status_code == 200
    assert turtle.value(csv, DCAT.byteSize).toPython() == len(download.content)
    checksum = turtle.value(csv, URIRef(SPDX + "checksum"))
    value = str(turtle.value(checksum, URIRef(SPDX + "checksumValue")))
    assert value == hashlib.sha256(download.content).hexdigest()
    licence = turtle.value(csv, DCTERMS.license)
    assert (licence, RDF.type, DCTERMS.LicenseDocument) in turtle
