"""Benchmarks: the service's real processes measured against plain programs in the same run.

``python -m bench [--backend embedded|postgres-redis|both] [--quick] [--scale N]`` starts what
it needs (the service, a bare Flask baseline app, an SMTP sink, callback receivers), measures,
stops everything it started and prints one markdown table per backend: figure, ours, baseline,
ratio. DESIGN section 9; issue 6 holds the targets.
"""
