"""Approval policies beyond the connector's first answer (issue 17).

How a request is decided (:mod:`.rules`: First, All, Quorum, Collect), the answers recorded
under it (:mod:`.answers`), what its callback says (:mod:`.payloads`), and what happens while
people stay silent: reminders (:mod:`.reminders`), escalation (:mod:`.escalation`), expiry
with its own callback (:mod:`.expiry`); and a recipient handing their place on
(:mod:`.reassign`). The request fields are in :mod:`.schemas`; a request without them keeps
the connector's behaviour.
"""
