"""The HTTP layer: the app factory, the error table, auth and routes."""
