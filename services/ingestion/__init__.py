"""Ingestion: accepts products from PIM systems (JSON over HTTP, gRPC) and emits ProductUpserted."""
