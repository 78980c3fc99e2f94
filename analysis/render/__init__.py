"""Rendering: the model's content into pages (jinja2 templates), figures (matplotlib) and files
written safely; nothing here computes a number the model did not."""
