"""The demo pipeline (``python -m demo``) and the helpers it shares with the tests and benchmark:
a sample catalogue, running the four services locally, and reading the asset feed."""
