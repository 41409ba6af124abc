"""The Studio: the web UI of ``modelyard up``, server-rendered pages (Jinja2, htmx for live
parts) over the same functions as the admin API, under ``/studio``.

``pages/`` holds the routes (one module per page family), ``templates/`` the pages, and
``templates/parts/`` the places features fill in as they land: an endpoint's traffic split
and mirror, the decision page's shadow comparison and drift, the monitoring report of each
endpoint, the batch jobs. Each part says at its top what context it gets."""
