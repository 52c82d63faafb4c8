import dataclasses

import pytest

from twinwear_runtime.config import ConfigError, RuntimeConfig, env, load_config


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExampleConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9999)
    model_url: str = env("TWINWEAR_MODEL_URL")


def test_defaults_and_overrides_are_typed():
    config = load_config(ExampleConfig, {"TWINWEAR_MODEL_URL": "triton:8001", "TWINWEAR_MINIO_SECURE": "true"})
    assert config.ops_port == 9999
    assert config.minio_secure is True
    assert config.retry_base_seconds == 0.5
    assert load_config(ExampleConfig, {"TWINWEAR_MODEL_URL": "x", "TWINWEAR_OPS_PORT": "9101"}).ops_port == 9101


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "TWINWEAR_MODEL_URL is required but not set"),
        ({"TWINWEAR_MODEL_URL": "x", "TWINWEAR_OPS_PORT": "nine"}, "TWINWEAR_OPS_PORT must be an integer, got 'nine'"),
        ({"TWINWEAR_MODEL_URL": "x", "TWINWEAR_MINIO_SECURE": "maybe"}, "TWINWEAR_MINIO_SECURE must be true or false"),
        (
            {"TWINWEAR_MODEL_URL": "x", "TWINWEAR_RETRY_BASE_SECONDS": "soon"},
            "TWINWEAR_RETRY_BASE_SECONDS must be a number",
        ),
    ],
)
def test_errors_name_the_variable(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ExampleConfig, environ)
