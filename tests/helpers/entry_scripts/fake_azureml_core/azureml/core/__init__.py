"""Stands for a real azureml-core installation in the host tests."""
