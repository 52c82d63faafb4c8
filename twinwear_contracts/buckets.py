"""MinIO buckets and who writes them. Keys inside are deterministic (from ids), so a retried
write overwrites and never orphans."""

# Written by ingestion: the flat-lay photos as PIMs sent them.
FLAT_LAYS_BUCKET = "twinwear-flat-lays"
# Written by render: one image per render id.
RENDERS_BUCKET = "twinwear-renders"
# Written by the publisher: what e-commerce may show.
PUBLISHED_BUCKET = "twinwear-published"
# Services' own bookkeeping, such as ingestion's newest version per product.
STATE_BUCKET = "twinwear-state"
# Backdrop images a render may stand the twin in front of (RenderRequested.background names a key).
BACKGROUNDS_BUCKET = "twinwear-backgrounds"
