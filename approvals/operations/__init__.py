"""Connector operations (mail, calendar, contacts) run by the worker on Graph.

``service`` starts one (a row, published after commit), finds it again and says how to
answer for it; ``waiting`` lets a route wait briefly for its end. The worker's side, which
calls Graph, is ``worker.operations``.
"""
