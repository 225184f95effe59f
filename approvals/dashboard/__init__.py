"""The dashboard's services: who is signed in, and the lists and pictures its pages show.

Pages (``approvals.web.dashboard``) stay thin over these; every action a page offers calls the
same service as the API (creating, cancelling, retrying), so no rule is written twice.
"""
