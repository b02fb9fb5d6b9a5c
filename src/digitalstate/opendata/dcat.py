"""The portal's catalogue as DCAT 3, with the properties DCAT-AP makes mandatory (and the
recommended ones the harvest knows), as RDF for `/catalogue.ttl` and `/catalogue.jsonld`
(docs/opendata.md#dcat).

- the catalogue (dcat:Catalog): title, description, publisher, homepage, its datasets;
- each dataset (dcat:Dataset): title, description, identifier, version, publisher, keywords,
  themes, issued and modified, landing page, distributions;
- each distribution (dcat:Distribution): access URL (mandatory), download URL, media type,
  format, licence, byte size, SHA-256 checksum (spdx);
- each publisher (foaf:Agent): name.
"""

from __future__ import annotations

from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from digitalstate.opendata.ckan import Catalogue, download_url

SPDX = Namespace("http://spdx.org/rdf/terms#")
FORMATS = Namespace("http://publications.europa.eu/resource/authority/file-type/")
IANA = Namespace("https://www.iana.org/assignments/media-types/")
VERSION = URIRef("http://www.w3.org/ns/dcat#version")  # DCAT 3's dcat:version


def catalogue_graph(catalogue: Catalogue, base: str, title: str) -> Graph:
    """The catalogue as an RDF graph; base is the portal's public address."""
    graph = Graph()
    for prefix, namespace in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("spdx", SPDX)):
        graph.bind(prefix, namespace)
    root = URIRef(f"{base}/catalogue")
    portal = URIRef(base)
    graph.add((root, RDF.type, DCAT.Catalog))
    graph.add((root, DCTERMS.title, Literal(title, lang="en")))
    graph.add(
        (
            root,
            DCTERMS.description,
            Literal(
                "Every dataset the members of this federation publish, harvested from each.",
                lang="en",
            ),
        )
    )
    graph.add((root, DCTERMS.publisher, portal))
    graph.add((portal, RDF.type, FOAF.Agent))
    graph.add((portal, FOAF.name, Literal(title, lang="en")))
    graph.add((root, FOAF.homepage, URIRef(f"{base}/catalogue")))
    for organisation in catalogue.organisations.values():
        agent = URIRef(f"{base}/catalogue?publisher={organisation.name}")
        graph.add((agent, RDF.type, FOAF.Agent))
        graph.add((agent, FOAF.name, Literal(organisation.title, lang="en")))
    for package in catalogue.packages:
        _dataset(graph, root, package, base)
    return graph


def _dataset(graph: Graph, root: URIRef, package: dict[str, Any], base: str) -> None:
    publisher, dataset = package["owner_org"], package["name"][len(package["owner_org"]) + 1 :]
    page = f"{base}/catalogue/{publisher}/{dataset}"
    node = URIRef(page)
    graph.add((root, DCAT.dataset, node))
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.title, Literal(package["title"], lang="en")))
    graph.add((node, DCTERMS.description, Literal(package["notes"] or package["title"], lang="en")))
    graph.add((node, DCTERMS.identifier, Literal(package["id"])))
    graph.add((node, VERSION, Literal(package["version"])))
    graph.add((node, DCTERMS.publisher, URIRef(f"{base}/catalogue?publisher={publisher}")))
    graph.add((node, DCAT.landingPage, URIRef(page)))
    graph.add((node, DCTERMS.issued, Literal(package["metadata_created"], datatype=XSD.dateTime)))
    graph.add(
        (node, DCTERMS.modified, Literal(package["metadata_modified"], datatype=XSD.dateTime))
    )
    for tag in package["tags"]:
        graph.add((node, DCAT.keyword, Literal(tag["name"], lang="en")))
    for theme in package["groups"]:
        graph.add((node, DCAT.theme, URIRef(f"{base}/catalogue?theme={theme['name']}")))
    for resource in package["resources"]:
        short = resource["id"].split(".", 2)[2]
        for kind, media in (("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet")):
            url = download_url(base, publisher, dataset, short, kind)
            _distribution(graph, node, package, resource, url, kind, media)


def _distribution(
    graph: Graph,
    dataset: URIRef,
    package: dict[str, Any],
    resource: dict[str, Any],
    url: str,
    kind: str,
    media: str,
) -> None:
    node = URIRef(url + "#distribution")
    graph.add((dataset, DCAT.distribution, node))
    graph.add((node, RDF.type, DCAT.Distribution))
    graph.add((node, DCTERMS.title, Literal(f"{resource['name']} ({kind.upper()})", lang="en")))
    graph.add((node, DCAT.accessURL, URIRef(url)))
    graph.add((node, DCAT.downloadURL, URIRef(url)))
    graph.add((node, DCAT.mediaType, IANA[media]))
    graph.add((node, DCTERMS.format, FORMATS[kind.upper()]))
    if package["license_url"]:
        licence = URIRef(package["license_url"])
        graph.add((node, DCTERMS.license, licence))
        graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
    if kind == "csv":  # the member's own file: its size and hash are the package's
        if isinstance(resource.get("size"), int):
            graph.add(
                (node, DCAT.byteSize, Literal(resource["size"], datatype=XSD.nonNegativeInteger))
            )
        digest = str(resource.get("hash", "")).removeprefix("sha256:")
        if digest:
            checksum = BNode()
            graph.add((node, SPDX.checksum, checksum))
            graph.add((checksum, RDF.type, SPDX.Checksum))
            graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
            graph.add((checksum, SPDX.checksumValue, Literal(digest, datatype=XSD.hexBinary)))
