"""The PIM aggregator: reads verified webhook deliveries from the inbox topic, maps each PIM's
products onto twinwear's canonical look (per the retailer's mapping file), fetches and stores the
images, keeps the newest version per variant and per look, and emits ProductUpserted /
ProductRetired keyed by look id. Rejections (products that cannot be mapped) are listed at
``GET /v1/rejections``."""
