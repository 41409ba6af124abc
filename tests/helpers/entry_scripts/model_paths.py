"""Run with the shim on sys.path: prints, as JSON, what each get_model_path call gives."""

import json
import sys

from azureml.core.model import Model

results = []
for call in json.loads(sys.argv[1]):
    try:
        results.append({"path": Model.get_model_path(*call)})
    except Exception as exc:
        results.append({"error": type(exc).__name__, "message": getattr(exc, "message", str(exc))})
print(json.dumps(results))
