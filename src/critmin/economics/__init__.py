"""Economics of a supply disruption: the reference price, market clearing, welfare, and the
U.S. GDP loss through the BEA input-output tables (docs/criticality.md)."""
