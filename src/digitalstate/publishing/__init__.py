"""Open data a node publishes: its datasets as Frictionless Data Packages, with versions, on a
public page and a signed exchange route (docs/opendata.md)."""
