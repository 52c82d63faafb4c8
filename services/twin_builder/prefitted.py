"""Fits of the default roster shipped with the service, so that a first start registers its twins at
once instead of fitting them for minutes (fitting takes seconds to tens of seconds per body on a busy
CPU). Keyed by the roster member's id, which derives from the member's content: if the roster or its
measurements change, the stale fits no longer match and those members are fitted as usual.

Regenerate after a change of twinwear_body's roster or fitting:
    python -m services.twin_builder.prefitted [--count 8]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from twinwear_body.fitting import FitResult, fit
from twinwear_body.model import BodyModel
from twinwear_body.params import BodyParams, Measurements
from twinwear_body.roster import generate_roster

PREFITTED_FILE = Path(__file__).with_name("default_roster_fits.json")
DEFAULT_SEED = "default"


def load_prefitted(path: Path = PREFITTED_FILE) -> Mapping[str, FitResult]:
    if not path.exists():
        return {}
    document = json.loads(path.read_text())
    return {
        member_id: FitResult(
            params=BodyParams(phenotype=entry["phenotype"], local_changes=entry["local_changes"]),
            fitted=Measurements(**entry["fitted"]),
            residuals_mm=entry["residuals_mm"],
            warnings=entry["warnings"],
            seconds=0.0,
        )
        for member_id, entry in document["fits"].items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=8)
    args = parser.parse_args()
    model = BodyModel()
    fits: dict[str, dict] = {}
    for member in generate_roster(args.count, DEFAULT_SEED):
        result = fit(member.measurements, member.sex, member.age_years, model=model)
        fits[member.twin_id] = {
            "phenotype": dict(result.params.phenotype),
            "local_changes": dict(result.params.local_changes),
            "fitted": asdict(result.fitted),
            "residuals_mm": result.residuals_mm,
            "warnings": result.warnings,
        }
        warnings = len(result.warnings)
        print(f"{member.twin_id} {member.sex} {member.size_label}: {result.seconds:.1f} s, {warnings} warnings")
        # Written after each member: an interrupted run keeps what it fitted (the rest fit at start).
        document = {"seed": DEFAULT_SEED, "count": args.count, "fits": fits}
        PREFITTED_FILE.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {PREFITTED_FILE}")


if __name__ == "__main__":
    main()
