"""Consent records: the screen, receipts, the person's pages, the holder's copy, enforcement."""
