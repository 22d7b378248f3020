"""Reserve operations: an append-only, hash-chained event log and the projections it rebuilds.

Commands are admitted (reference checks: minerals, foreign entities of concern, market prices),
turned into events, applied to the state (invariants: stock, funds, resolutions, quorum) and
appended in one serialised transaction; replaying the log rebuilds every projection exactly.
"""
