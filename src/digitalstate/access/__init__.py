"""Access records: every read, refusal, notice and consent change, where the person can see it.

The verifiable log of issue 4 replaces this table as the one record of truth.
"""
