"""Performance: what declared services' journeys record, and what a node measures from it."""
