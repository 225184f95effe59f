"""The connector's triggers: polled (state in the Location) and pushed (subscriptions)."""
