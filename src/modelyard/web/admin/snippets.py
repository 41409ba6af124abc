"""Sample code for one endpoint: curl, Python, JavaScript, C# and R, for each wire format
(Azure ML v1 ``/score``, MLflow ``/invocations``, Open Inference V2 ``/infer``, Azure ML
Studio classic ``/execute``), with a plausible row drawn from the version's training
profile. Every program reads the key from ``MODELYARD_KEY``, prints the answer's JSON and
fails on an HTTP error."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from modelyard.registry.records import ModelVersion
from modelyard.serving.protocols.v2 import model_metadata
from modelyard.serving.samples import sample_frame

PROTOCOLS = ("azureml", "mlflow", "v2", "classic")
LANGUAGES = ("curl", "python", "javascript", "csharp", "r")
TITLES = {
    "azureml": "Azure ML v1 (/score)",
    "mlflow": "MLflow (/invocations)",
    "v2": "Open Inference V2 (/infer)",
    "classic": "Azure ML Studio classic (/execute)",
    "curl": "curl",
    "python": "Python",
    "javascript": "JavaScript",
    "csharp": "C#",
    "r": "R",
}


@dataclass(frozen=True)
class Snippet:
    """One program: which wire format, which language, the URL it calls and its code."""

    protocol: str
    language: str
    url: str
    code: str

    def to_dict(self) -> dict[str, str]:
        """The JSON form served at ``/api/v1/endpoints/E/samples``."""
        return {
            "protocol": self.protocol,
            "language": self.language,
            "url": self.url,
            "code": self.code,
        }


def example_row(version: ModelVersion) -> dict[str, Any]:
    """One plausible input row (JSON values by column) from the version's profile."""
    assert version.signature is not None
    frame = sample_frame(version.signature, version.profile, rows=1, unseen=False)
    row = json.loads(frame.to_json(orient="records", date_format="iso"))[0]
    return {str(k): v for k, v in row.items()}


def requests_for(endpoint: str, version: ModelVersion, row: Mapping[str, Any]) -> dict[str, Any]:
    """The path and JSON body of each wire format for ``row``."""
    columns = list(row)
    values = [row[c] for c in columns]
    inputs = model_metadata(endpoint, version.version, "", version.signature, None)["inputs"]
    if len(inputs) == 1 and inputs[0]["name"] not in row:  # numeric: one [1, F] tensor
        tensors = [{**inputs[0], "shape": [1, len(values)], "data": values}]
        v2: dict[str, Any] = {"inputs": tensors}
    else:  # one input per column, as MLServer's pandas content type
        tensors = [{**spec, "shape": [1], "data": [row[spec["name"]]]} for spec in inputs]
        v2 = {"parameters": {"content_type": "pd"}, "inputs": tensors}
    text = ["" if v is None else str(v) for v in values]
    return {
        "azureml": (f"/endpoints/{endpoint}/score", {"data": [dict(row)]}),
        "mlflow": (
            f"/endpoints/{endpoint}/invocations",
            {"dataframe_split": {"columns": columns, "data": [values]}},
        ),
        "v2": (f"/v2/models/{endpoint}/infer", v2),
        "classic": (
            f"/endpoints/{endpoint}/execute?api-version=2.0&details=true",
            {
                "Inputs": {"input1": {"ColumnNames": columns, "Values": [text]}},
                "GlobalParameters": {},
            },
        ),
    }


def snippets(base: str, endpoint: str, version: ModelVersion) -> list[Snippet]:
    """Every (wire format, language) program for ``endpoint`` served at ``base``."""
    calls = requests_for(endpoint, version, example_row(version))
    found = []
    for protocol in PROTOCOLS:
        path, body = calls[protocol]
        url = base.rstrip("/") + path
        for language in LANGUAGES:
            found.append(Snippet(protocol, language, url, WRITERS[language](url, body)))
    return found


def _curl(url: str, body: Any) -> str:
    quoted = json.dumps(body).replace("'", "'\\''")
    return (
        f"curl -sS --fail-with-body -X POST '{url}' \\\n"
        '  -H "Authorization: Bearer $MODELYARD_KEY" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d '{quoted}'\n"
    )


def _python(url: str, body: Any) -> str:
    return (
        "import os\n\nimport requests\n\n"
        f"url = {url!r}\n"
        f"body = {body!r}\n"
        'headers = {"Authorization": f"Bearer {os.environ[\'MODELYARD_KEY\']}"}\n'
        "response = requests.post(url, json=body, headers=headers, timeout=30)\n"
        "response.raise_for_status()  # an error's JSON body says what to fix\n"
        "print(response.text)\n"
    )


def _javascript(url: str, body: Any) -> str:
    return (
        "// Node 18+ (global fetch); save as score.mjs for the top-level await\n"
        f"const url = {json.dumps(url)};\n"
        f"const body = {json.dumps(body)};\n"
        "const response = await fetch(url, {\n"
        '  method: "POST",\n'
        "  headers: {\n"
        "    Authorization: `Bearer ${process.env.MODELYARD_KEY}`,\n"
        '    "Content-Type": "application/json",\n'
        "  },\n"
        "  body: JSON.stringify(body),\n"
        "});\n"
        "const text = await response.text();\n"
        "if (!response.ok) throw new Error(`${response.status}: ${text}`);\n"
        "console.log(text);\n"
    )


def _csharp(url: str, body: Any) -> str:
    verbatim = json.dumps(body).replace('"', '""')
    return f"""using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

class Score
{{
    static void Main() => Run().GetAwaiter().GetResult();

    static async Task Run()
    {{
        const string url = "{url}";
        const string body = @"{verbatim}";
        var key = Environment.GetEnvironmentVariable("MODELYARD_KEY");
        using (var client = new HttpClient())
        {{
            var request = new HttpRequestMessage(HttpMethod.Post, url);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
                throw new Exception((int)response.StatusCode + ": " + text);
            Console.WriteLine(text);
        }}
    }}
}}
"""


def _r(url: str, body: Any) -> str:
    quoted = json.dumps(body).replace("\\", "\\\\").replace("'", "\\'")
    return (
        "library(httr)\n\n"
        f'url <- "{url}"\n'
        f"body <- '{quoted}'\n"
        'auth <- add_headers(Authorization = paste("Bearer", Sys.getenv("MODELYARD_KEY")))\n'
        "response <- POST(url, auth, content_type_json(), body = body)\n"
        'text <- content(response, as = "text", encoding = "UTF-8")\n'
        'if (http_error(response)) stop(status_code(response), ": ", text)\n'
        'cat(text, "\\n")\n'
    )


WRITERS: dict[str, Callable[[str, Any], str]] = {
    "curl": _curl,
    "python": _python,
    "javascript": _javascript,
    "csharp": _csharp,
    "r": _r,
}
