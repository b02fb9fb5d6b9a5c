"""The web layer: app factories, problem responses, templates and static assets."""
