"""Authoritative records, consented reads, access records and people's pages at a register."""
