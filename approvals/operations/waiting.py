"""Wait, a little, for an operation to end: the route answers its result if it comes in time.

The worker records the result in the operation's row; the waiting route looks at the row,
first often, then less (2 ms doubling to 50 ms), so a quick operation is answered within a
few milliseconds of its end and a slow one costs a read every 50 ms until the wait is over.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from approvals.runtime import Runtime
from approvals.store.models import Operation
from approvals.store.status import OperationStatus

FIRST_LOOK_SECONDS = 0.002
MAX_LOOK_SECONDS = 0.05
_FINISHED = (OperationStatus.SUCCEEDED, OperationStatus.FAILED)


def wait_for_end(runtime: Runtime, operation_id: str, seconds: float) -> bool:
    """True once the operation has ended, False when ``seconds`` passed first."""
    deadline = time.monotonic() + seconds
    pause = FIRST_LOOK_SECONDS
    query = select(Operation.status).where(Operation.id == operation_id)
    while True:
        with runtime.db.engine.connect() as conn:
            if conn.scalar(query) in _FINISHED:
                return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(pause * 2, MAX_LOOK_SECONDS)
