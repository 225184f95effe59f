"""The connector's triggers: polled (state in the Location) and pushed (subscriptions)."""

from approvals.triggers import owner as _owner  # noqa: F401 - registers the deliveries' owner
