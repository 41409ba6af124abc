"""What the request being answered is, for code that runs inside ``run()``: the shim's
``ModelDataCollector`` tags the rows it collects with the request's id."""

from __future__ import annotations

request_id = ""  # set on the main thread just before run() is called, one call at a time
