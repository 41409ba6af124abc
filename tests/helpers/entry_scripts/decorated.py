"""run() decorated with inference-schema: a pandas frame and a float."""

import pandas as pd
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


@input_schema("data", PandasParameterType(pd.DataFrame({"surface": [25.0], "city": ["Paris"]})))
@input_schema("factor", StandardPythonParameterType(2.0))
@output_schema(StandardPythonParameterType({"prices": [1.0]}))
def run(data, factor, request_headers):
    assert isinstance(data, pd.DataFrame)
    prices = (data["surface"] * factor).tolist()
    return {"prices": prices, "cities": data["city"].tolist(), "type": type(factor).__name__}
