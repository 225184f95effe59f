"""The worker's side of connector operations: claim the row, call Graph, record the answer.

``runner`` claims and records; ``results`` turns Graph's answers and errors into ours;
``catalog`` maps each operationId to its handler, one module per area (``mail``, ``calendar``,
``contacts``).
"""
