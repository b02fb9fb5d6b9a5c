"""Tell us once: the outbox, delivery of change notices and their receipt."""
