"""Entry-script endpoints: Azure ML SDK v1's ``init()``/``run()`` contract, unchanged.

Each endpoint runs in child processes of its own (``host``), in its own environment
when it declares one, laid out as Azure lays out a container (``layout``), supervised
and restarted with backoff (``deployment``), followed by each replica (``manager``).
The child speaks azureml-inference-server-http's routes; the replica proxies to it
after checking the key.
"""
