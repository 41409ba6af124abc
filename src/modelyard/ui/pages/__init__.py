"""The Studio's routes, one module per page family."""
