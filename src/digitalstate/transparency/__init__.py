"""The transparency log: every access to a person's data, in a verifiable Merkle log (DESIGN §7)."""
