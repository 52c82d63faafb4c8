"""Fixtures for tests of anny-backed bodies (anny on CPU). The anny cache is built in set-up, never here."""

from __future__ import annotations

import pytest

from twinwear_body.warm_cache import is_built


@pytest.fixture(scope="session")
def body_model():  # -> twinwear_body.model.BodyModel
    if not is_built():
        pytest.fail("anny's cache is not built: run `python -m twinwear_body.warm_cache` (infra/bootstrap.sh does)")
    from twinwear_body.model import BodyModel

    return BodyModel()
