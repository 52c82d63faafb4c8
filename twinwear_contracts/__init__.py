"""twinwear's event contracts: which topic carries which events under which key, and where bytes
live. Declared once, next to the protos, and imported by producers and consumers alike; the shared
runtime holds only the mechanism (see ``twinwear_runtime``)."""
