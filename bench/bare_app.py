"""The ceiling of bench/serve.py: a bare Starlette app that only calls predict.

POST /predict/NAME with ``{"data": [{column: value, ...}, ...]}``: parse the JSON (orjson),
build a DataFrame, call the estimator's ``predict_proba`` (classifiers) or ``predict``, in
the event loop, and answer ``{"predictions": [...]}``. No keys, no validation, no
middleware, no thread hop: what any real server adds is measured against this.

    python bench/bare_app.py --models DIR --port 8000 [--workers 2]

DIR holds NAME.joblib files (written by bench/serve.py). GET /health answers 200.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one thread per worker, as every server here gets

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import orjson  # noqa: E402
import pandas as pd  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

MODELS_ENV = "BARE_APP_MODELS"


def _load(folder: str) -> dict[str, Callable[[pd.DataFrame], Any]]:
    predictors = {}
    for path in sorted(Path(folder).glob("*.joblib")):
        model = joblib.load(path)
        method = "predict_proba" if hasattr(model, "predict_proba") else "predict"
        predictors[path.stem] = getattr(model, method)
    return predictors


PREDICTORS = _load(os.environ[MODELS_ENV]) if MODELS_ENV in os.environ else {}


async def predict(request: Request) -> Response:
    predictor = PREDICTORS.get(request.path_params["name"])
    if predictor is None:
        return Response(b'{"error": "no such model"}', status_code=404)
    rows = orjson.loads(await request.body())["data"]
    predictions = np.ascontiguousarray(predictor(pd.DataFrame(rows)))
    body = orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, media_type="application/json")


async def health(_: Request) -> Response:
    return Response(b"ok\n", media_type="text/plain")


app = Starlette(
    routes=[
        Route("/predict/{name}", predict, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True, help="folder of NAME.joblib files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ[MODELS_ENV] = str(Path(args.models).resolve())
    uvicorn.run(
        "bare_app:app",
        app_dir=str(Path(__file__).resolve().parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
