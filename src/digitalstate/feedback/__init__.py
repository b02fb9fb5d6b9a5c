"""Feedback: satisfaction at the end of a service, and stories told, moderated and answered."""
