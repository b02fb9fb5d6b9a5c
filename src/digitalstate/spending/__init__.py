"""Public spending: a node's payments, imported from CSV and published as the Local Government
Transparency Code asks (docs/spending.md)."""
