"""@rawhttp run(request): reports what the request object offers."""

import json

from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


@rawhttp
def run(request: AMLRequest):
    if request.path.endswith("/binary") or request.args.get("binary"):
        return AMLResponse(request.get_data(), 200, {"Content-Type": "application/octet-stream"})
    if request.method == "GET":
        return {
            "method": "GET",
            "args": request.args.to_dict(),
            "full_path": request.full_path,
            "path": request.path,
            "a_list": request.args.getlist("a"),
        }
    if request.method != "POST":
        return AMLResponse("method " + request.method, 200)
    out = {
        "method": request.method,
        "mimetype": request.mimetype,
        "data": request.get_data(as_text=True)[:50],
        "header": request.headers.get("x-custom"),
    }
    if request.is_json:
        out["json"] = request.get_json()
    if request.mimetype == "multipart/form-data":
        out["files"] = {k: [f.filename, f.read().decode()] for k, f in request.files.items()}
        out["form"] = request.form.to_dict()
        out["data"] = None
    return json.dumps(out)
