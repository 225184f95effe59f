"""A fast local callback receiver: the tests' receiver without its 40 ms stall per request.

``tests.support.receiver.CallbackReceiver`` writes the status line and headers, then the body,
as two unbuffered writes. On a keep-alive connection the second small segment waits for the
client's delayed ACK (Nagle), so every reused connection answers in about 40 ms: a raw loop
tops out near 25 requests/s. Buffering the handler's output (flushed once per request) and
TCP_NODELAY remove the stall; everything else (scripts, recording) is the tests' receiver.
"""

from __future__ import annotations

from tests.support.receiver import CallbackReceiver

WRITE_BUFFER = 64 * 1024


def fast_receiver() -> CallbackReceiver:
    receiver = CallbackReceiver()
    handler = receiver.server.RequestHandlerClass  # a class of this receiver's own
    handler.wbufsize = WRITE_BUFFER
    handler.disable_nagle_algorithm = True
    return receiver
