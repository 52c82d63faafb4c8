"""The twinwear services, one package each; run one with ``python -m services.<name>``."""
