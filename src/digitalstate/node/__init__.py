"""A running node: its runtime parts and how they are started."""
