"""digitalstate: government as a federation of nodes that serve people and keep their trust."""

__version__ = "0.1.0"
