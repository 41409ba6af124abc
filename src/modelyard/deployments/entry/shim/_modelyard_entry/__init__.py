"""The entry-script host: azureml-inference-server-http's routes over the standard library.

Run as ``python modelyard_entry_host.py --entry-script PATH --port-file FILE``; see
``cli.main``. Standard library only, Python 3.9+: it runs in the endpoint's own
environment, which holds the user's packages and nothing of modelyard.
"""

__version__ = "1"
