"""``python -m approvals.cli``: how ``approvals run`` starts its processes."""

from approvals.cli import main

main()
