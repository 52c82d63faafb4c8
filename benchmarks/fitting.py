"""Fit time (p50/p95) and residual per measure over a roster's measurement profiles, anny on CPU.

python benchmarks/fitting.py [--count 20] [--seed benchmark]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from twinwear_body.fitting import TOLERANCE_MM, fit
from twinwear_body.model import BodyModel
from twinwear_body.params import MEASURE_NAMES
from twinwear_body.roster import generate_roster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", default="benchmark")
    args = parser.parse_args()
    model = BodyModel()
    results = []
    for member in generate_roster(args.count, args.seed):
        result = fit(member.measurements, member.sex, member.age_years, model)
        results.append(result)
        worst = max(abs(r) for r in result.residuals_mm.values())
        print(
            f"{member.sex:<6} {member.age_years:>2} {member.size_label:<4} {result.seconds:5.2f}s worst {worst:.1f} mm",
            flush=True,
        )
    seconds = np.array([r.seconds for r in results])
    print(f"\nfits: {len(results)}  p50 {np.percentile(seconds, 50):.2f} s  p95 {np.percentile(seconds, 95):.2f} s")
    print(f"{'measure':<20} {'p50 |mm|':>9} {'p95 |mm|':>9} {'max |mm|':>9} {'within 5 mm':>12}")
    for name in MEASURE_NAMES:
        errors = np.abs([r.residuals_mm[name] for r in results])
        within = sum(e <= TOLERANCE_MM for e in errors)
        print(
            f"{name:<20} {np.percentile(errors, 50):9.2f} {np.percentile(errors, 95):9.2f} {errors.max():9.2f}"
            f" {within:>6}/{len(errors)}"
        )
    all_within = sum(all(abs(r) <= TOLERANCE_MM for r in res.residuals_mm.values()) for res in results)
    print(f"fits with every residual within 5 mm: {all_within}/{len(results)}")
    print(f"mean fit time {statistics.mean(seconds):.2f} s")


if __name__ == "__main__":
    main()
