"""The model registry: versions, aliases, events, flavours and the one safe loader."""
