"""Callback delivery: "POST this JSON to this URL for this client", owed until it lands.

Its whole lifecycle is here: :mod:`.service` creates a delivery (in the transaction of the
event that causes it), reads it and retries it on request; :mod:`.lifecycle` claims due
deliveries, drops those whose owner is closed, records each attempt and moves the delivery to
its next state. Who a delivery belongs to (an approval subscription today, a trigger
subscription next) is known only through :mod:`.owners`. Sending the request itself is the
worker's (``worker.webhooks``).
"""
