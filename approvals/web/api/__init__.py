"""API views, one module per resource; their routes are rows of approvals.web.routes."""
