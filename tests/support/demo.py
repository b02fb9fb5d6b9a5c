"""What tests of the demo's preparation share.

A demo prepared in full writes a year of synthetic journeys at each node with pages (about
300,000 events, most of a `prepare`'s CPU). The tests of what else it prepares ask for a few
(`prepare(..., journeys=FEW_JOURNEYS)`, or `digitalstate demo --journeys`); test_demo_seed
checks that they are written, once.
"""

from __future__ import annotations

FEW_JOURNEYS = 50
