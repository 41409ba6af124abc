"""Workspace settings, one module per concept: ``settings`` (the typed ``Settings``),
``locations`` (``modelyard.toml`` and the state folder), ``variables`` (``${VAR}``),
``template`` (what ``modelyard init`` writes), ``serve`` (``modelyard serve``'s options),
``secret``, ``executor``, ``monitoring`` and ``storage`` (their tables)."""
