"""approvals: approval and options emails with signed, retried callbacks.

Importing this package stays cheap: the web layer lives in ``approvals.web`` and is only
loaded by the CLI and the WSGI entry point.
"""

__version__ = "0.1.0"
