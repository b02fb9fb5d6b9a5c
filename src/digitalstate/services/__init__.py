"""The demo services people use, built on sign-in, consent and tell-us-once."""
