"""Verify a published file: ``python -m services.publisher.provenance.verify FILE --ca CA.pem``.

Prints the verdict, the reasons and the manifest's summary as JSON; exit status 0 when the file's
C2PA manifest is intact and trusted and its IPTC disclosure is there, 1 when not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import mimetypes
import sys
from pathlib import Path

from services.publisher.provenance.verification import verify


def main() -> None:
    parser = argparse.ArgumentParser(description="Verify a twinwear image's C2PA manifest and IPTC disclosure.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--ca", type=Path, required=True, help="PEM trust anchors (the CA that issued the signer)")
    parser.add_argument("--content-type", help="MIME type; guessed from the file name when omitted")
    args = parser.parse_args()
    content_type = args.content_type or mimetypes.guess_type(args.file.name)[0]
    if content_type is None:
        parser.error(f"cannot tell the content type of {args.file.name}; pass --content-type")
    result = verify(args.file.read_bytes(), content_type, args.ca.read_text())
    print(json.dumps(dataclasses.asdict(result), indent=2))
    sys.exit(0 if result.valid else 1)


if __name__ == "__main__":
    main()
