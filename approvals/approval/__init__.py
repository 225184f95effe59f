"""The approval loop: subscriptions, their recipients' links and the responses they record."""
