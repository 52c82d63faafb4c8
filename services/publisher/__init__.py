"""Publisher: moves finished renders into the published asset store and the asset feed."""
