"""The public surface is what ``modelyard.__all__`` says, and all of it exists."""

import modelyard


def test_every_public_name_exists_and_is_listed_once() -> None:
    assert len(modelyard.__all__) == len(set(modelyard.__all__))
    for name in modelyard.__all__:
        assert hasattr(modelyard, name), name


def test_errors_have_stable_distinct_codes() -> None:
    classes = [getattr(modelyard, n) for n in modelyard.__all__]
    errors = [c for c in classes if isinstance(c, type) and issubclass(c, modelyard.ModelyardError)]
    codes = [e.code for e in errors]
    assert len(codes) == len(set(codes))
    assert modelyard.HashMismatch.code == "hash_mismatch"
