"""The outlook: project pipeline, lead times, capacity to 2040, recycling, alliances, instruments.

Build, then solve: :mod:`critmin.outlook.pipeline` turns the declared tables into arrays,
:mod:`critmin.outlook.montecarlo` samples when (and whether) each project produces, and
:mod:`critmin.outlook.capacity` adds the result to today's output by stage and country.
"""
