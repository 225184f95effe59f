"""Microsoft Graph for the worker: a token per process (msal) and one client (httpx).

Only the worker calls Graph. ``credentials`` gets and keeps the app's token; ``client`` makes
the calls: per-mailbox concurrency, throttling waits, paging and Graph's errors as
:class:`~worker.graph.client.GraphError`.
"""
