"""The approval loop: subscriptions, their recipients' links and the responses they record."""

from approvals.approval import owner as _owner  # noqa: F401 - registers the deliveries' owner
