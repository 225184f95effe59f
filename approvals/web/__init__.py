"""The web layer: app factory, blueprints, pages and the CLI."""
