"""The composition root and the SDK: ``Workspace.from_config()`` builds everything.

from modelyard import Workspace
ws = Workspace.from_config()
v = ws.models.register("immo", "model.skops")
ws.models.promote("immo", v.version)
est = ws.models.load("immo@champion")
"""
