"""``azureml.contrib.services``: ``aml_request`` (AMLRequest, rawhttp) and ``aml_response``."""
