"""How many draws the criticality ranking takes per stratum (the no-event stratum and each
event alone): the one definition `critmin rank`, `criticality`, `review`, `serve` and the web
page share, so a web ranking can be reproduced from the CLI. Imports nothing (fast start-up)."""

from __future__ import annotations

DEFAULT_RUNS = 200  # draws per stratum when none is given
MIN_RUNS = 20  # fewest draws per stratum a ranking accepts
MAX_RUNS = 100_000  # most draws per stratum a ranking accepts
