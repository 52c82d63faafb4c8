"""A synthetic roster that covers sizes, skin tones, ages, hairstyles and both sexes evenly. Pure.

Design: a Latin hypercube over the factors. For each factor (sex, size, Monk tone, hairstyle) the roster takes
its levels in turn, so each level appears count/levels times (to within one), and a seeded permutation per
factor pairs them up independently. Ages come from equal strata of 18..70, one draw per stratum, permuted the
same way. Measurements are drawn inside the member's size row of the common EN 13402-3 style chart.

    python -m twinwear_body.roster --count 40 [--seed default]
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from twinwear_body.appearance import EYE_COLOURS, HAIR_COLOURS, HAIRSTYLES, MONK_SKIN_TONES
from twinwear_body.params import Measurements
from twinwear_body.sizing import COMMON_CHARTS, SIZE_LABELS
from twinwear_runtime.events import derive_id

SEXES = ("female", "male")
AGE_RANGE = (18, 70)
AGE_BANDS = ((18, 29), (30, 39), (40, 49), (50, 59), (60, 70))
# Stature ranges (cm) and biacromial breadth at size XXS / per size step, by sex: ISO 7250 / EN 13402 ranges.
_STATURE = {"female": (155.0, 178.0), "male": (166.0, 192.0)}
_SHOULDER = {"female": (33.5, 0.9), "male": (38.0, 1.0)}


@dataclass(frozen=True)
class RosterMember:
    twin_id: str
    sex: str
    age_years: int
    size_label: str
    monk_skin_tone: int
    hairstyle: str
    hair_colour: tuple[int, int, int]
    eye_colour: tuple[int, int, int]
    measurements: Measurements


def _balanced(levels: Sequence, count: int, rng: random.Random) -> list:
    """Each level count/len(levels) times (to within one), in a seeded random order."""
    column = [levels[i % len(levels)] for i in range(count)]
    rng.shuffle(column)
    return column


def _measurements(sex: str, size_label: str, rng: random.Random) -> Measurements:
    row = next(r for r in COMMON_CHARTS[sex] if r.size_label == size_label)
    low, high = _STATURE[sex]
    stature = rng.uniform(low, high)
    shoulder_base, shoulder_step = _SHOULDER[sex]
    return Measurements(
        stature_cm=round(stature, 1),
        chest_girth_cm=round(rng.uniform(*row.chest), 1),
        waist_girth_cm=round(rng.uniform(*row.waist), 1),
        hip_girth_cm=round(rng.uniform(*row.hip), 1),
        inside_leg_cm=round(stature * rng.uniform(0.44, 0.47), 1),
        shoulder_width_cm=round(shoulder_base + shoulder_step * row.rank + rng.uniform(-1.0, 1.0), 1),
    )


def generate_roster(count: int, seed: str = "default") -> list[RosterMember]:
    """`count` synthetic members, the same for the same seed."""
    if count < 1:
        raise ValueError(f"count: must be at least 1, got {count}")
    rng = random.Random(f"twinwear-roster:{seed}")
    sexes = _balanced(SEXES, count, rng)
    sizes = _balanced(SIZE_LABELS, count, rng)
    tones = _balanced(sorted(MONK_SKIN_TONES), count, rng)
    hairstyles = _balanced(HAIRSTYLES, count, rng)
    low, high = AGE_RANGE
    ages = [round(low + (i + rng.random()) * (high - low) / count) for i in range(count)]
    rng.shuffle(ages)
    hair_colours, eye_colours = list(HAIR_COLOURS.values()), list(EYE_COLOURS.values())
    members = []
    for sex, size, tone, hairstyle, age in zip(sexes, sizes, tones, hairstyles, ages, strict=True):
        measurements = _measurements(sex, size, rng)
        hair = rng.choice(hair_colours[:-1] if age < 45 else hair_colours)  # grey hair only from 45
        eyes = rng.choice(eye_colours)
        identity = (seed, sex, str(age), size, str(tone), hairstyle, repr(measurements))
        members.append(
            RosterMember(
                derive_id("synthetic-twin", *identity), sex, age, size, tone, hairstyle, hair, eyes, measurements
            )
        )
    return members


def _age_band(age: int) -> str:
    return next(f"{low}-{high}" for low, high in AGE_BANDS if low <= age <= high)


def coverage_table(members: Sequence[RosterMember]) -> str:
    """How many members each level of each factor has, as a text table."""
    factors = {
        "sex": (SEXES, Counter(m.sex for m in members)),
        "size": (SIZE_LABELS, Counter(m.size_label for m in members)),
        "monk tone": (tuple(sorted(MONK_SKIN_TONES)), Counter(m.monk_skin_tone for m in members)),
        "hairstyle": (HAIRSTYLES, Counter(m.hairstyle for m in members)),
        "age": (tuple(f"{lo}-{hi}" for lo, hi in AGE_BANDS), Counter(_age_band(m.age_years) for m in members)),
    }
    lines = [f"{len(members)} members", f"{'factor':<10} {'level':<14} {'count':>5}"]
    for factor, (levels, counts) in factors.items():
        lines.extend(f"{factor:<10} {level!s:<14} {counts.get(level, 0):>5}" for level in levels)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print the coverage of a generated synthetic roster.")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", default="default")
    args = parser.parse_args(argv)
    print(coverage_table(generate_roster(args.count, args.seed)))


if __name__ == "__main__":
    main()
