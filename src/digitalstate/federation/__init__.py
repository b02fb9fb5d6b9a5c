"""The trust anchor and the federation document it signs."""
