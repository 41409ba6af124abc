"""Persistence: the registry database (engine, schema, migrations) and the artifact store."""
