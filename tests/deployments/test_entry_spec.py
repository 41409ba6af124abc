"""An entry-script spec keeps the environment variables it was given (Azure's
``Environment.environment_variables``) and refuses ones a process could not get."""

from __future__ import annotations

import pytest

from modelyard.deployments.entry.spec import ScriptSpec, deployment_digest
from modelyard.errors import InvalidInput
from modelyard.registry.records import FileEntry

CODE = (FileEntry("score.py", "0" * 64, 10),)


def test_variables_round_trip_and_leave_older_digests_alone() -> None:
    plain = ScriptSpec("score.py", CODE, ("m:1",))
    with_cors = ScriptSpec(
        "score.py", CODE, ("m:1",), variables={"AML_CORS_ORIGINS": "https://a.example"}
    )
    assert "variables" not in plain.to_options(auth=True)
    assert ScriptSpec.from_options(with_cors.to_options(auth=True)) == with_cors
    assert deployment_digest(plain.to_options(auth=True)) != deployment_digest(
        with_cors.to_options(auth=True)
    )


@pytest.mark.parametrize("name", ["", "1ABC", "A-B", "A B"])
def test_a_variable_name_a_process_cannot_have_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ScriptSpec("score.py", CODE, (), variables={name: "x"})
    assert caught.value.code == "bad_environment_variable"
