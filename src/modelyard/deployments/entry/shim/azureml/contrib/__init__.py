"""``azureml.contrib``: only ``services`` is provided."""
