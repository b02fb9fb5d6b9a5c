"""Prisons: the prisons' register of prisoners, their visit slots, and booking a prison visit.

The book-a-prison-visit service is declared in a file like every other (services/); this
package is the code its `prison-visit` action, `prison-visit-slots` source, decision hook and
cancellation run (docs/services.md, "Book a prison visit").
"""
