"""The packages Azure ML's inference base image gave every conda environment.

An Azure ML v1 deployment built its conda file on top of an inference image that already
held numpy and pandas, so entry scripts imported pandas without declaring it (seed 003's
does). modelyard builds a conda environment (a conda file, ``CondaDependencies``) with the
same packages unless the file declares them itself; a requirements file, or an
``Environment`` whose dependencies are user-managed, gets nothing added.

Source: Microsoft Learn, "Prebuilt Docker images for inference" (2021-05-25;
MicrosoftDocs/azure-docs, articles/machine-learning/concept-prebuilt-docker-images-inference.md):
every framework inference image in its table (scikit-learn 0.24.1, XGBoost 0.9, ONNX
Runtime 1.6, TensorFlow, PyTorch; ubuntu18.04, python 3.7) lists ``numpy>=1.16.0`` (or
``==1.20.1``) and ``pandas~=1.1.x`` (or ``==0.25.1``) as pre-installed.

Those pins have no wheels for the Python versions modelyard runs on, so the names are
added without a version: the resolver picks what fits the file's own pins, and the lock of
the built environment (see ``deployments.env.sharing``) keeps every replica on the same
versions. A change of this list is a new :data:`AZURE_INFERENCE_BASE` version, and since
the packages are part of the requirement lines, environments built with the old list are
not reused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class BaseImage:
    """A named, versioned set of packages an image provided, and where that is documented."""

    name: str
    version: str
    packages: tuple[str, ...]
    source: str

    def missing_from(self, lines: Iterable[str]) -> list[str]:
        """The packages that ``lines`` (pip requirements) do not declare, in list order."""
        declared: set[str] = set()
        for line in lines:
            try:
                declared.add(canonicalize_name(Requirement(line).name))
            except InvalidRequirement:
                continue  # reported by the requirements parser, with its line
        return [p for p in self.packages if canonicalize_name(p) not in declared]


AZURE_INFERENCE_BASE = BaseImage(
    name="azureml-inference",
    version="2021.05",
    packages=("numpy", "pandas"),
    source=(
        'Microsoft Learn, "Prebuilt Docker images for inference" (2021-05-25): '
        "numpy and pandas are pre-installed in every framework inference image"
    ),
)
"""What an Azure ML v1 conda environment had without declaring it."""
