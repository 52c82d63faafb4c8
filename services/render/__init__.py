"""Render: dresses a twin in a garment through a Triton model and stores the image."""
