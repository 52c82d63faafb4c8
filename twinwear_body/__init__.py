"""The body domain shared by twin_builder and render: anny bodies, tape measures, fitting, poses, sizing.

Importing `twinwear_body` or its pure modules (params, appearance, poses, sizing, roster) never imports torch
or anny; only `model`, `fitting` and `warm_cache` do.
"""
