"""The shared runtime: what every twinwear service does the same way.

Consume and produce protobuf events over Kafka, retry, dead-letter, drop duplicates, log, export
metrics, serve health probes and read typed configuration. A service folder holds only its own
domain logic and the wiring in its ``__main__``.
"""
