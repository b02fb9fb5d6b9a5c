"""Signed node-to-node exchange: HTTP Message Signatures, digests, replay cache, problems."""
