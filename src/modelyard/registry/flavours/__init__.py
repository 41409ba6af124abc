"""Flavours: how each kind of model is saved and loaded, behind one safe loader.

Each flavour module imports its own heavy library (skops and scikit-learn,
XGBoost, ONNX Runtime); they are imported on first use so that commands which
never load a model (``modelyard models list``) start quickly.
"""
