"""Telling people by email: an outbox queued in the caller's transaction, sent over SMTP.

`digitalstate.mail`, not `email`: the standard library's email package keeps its name.
"""
