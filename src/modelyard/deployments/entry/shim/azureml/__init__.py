"""modelyard's clean-room stand-in for the ``azureml`` names entry scripts import.

Only importable inside an entry-script process started by ``modelyard_entry_host.py``,
which puts this folder on ``sys.path`` when the real azureml-core is not installed.
Nothing here is Microsoft code.
"""
