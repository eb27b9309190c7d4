"""Persistence: models, migrations, and data-access functions that take `*, session` and never commit."""
