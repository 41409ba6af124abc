"""run() decorated with a numpy input and a defaulted second parameter."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema


def init():
    pass


@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0, 3.0]])))
def run(data, scale=1):
    assert isinstance(data, np.ndarray)
    return {"sum": float(data.sum()) * scale, "shape": list(data.shape)}
