"""Leave-generator-out, speaker-disjoint splits (deterministic: seeded by names, never by run order).

* Generators are held out per family (ours and the ready-made spoof sources alike): a test generator
  appears only in test. A few are pinned by name (config.FIXED_GENERATOR_SPLITS: Kokoro -> test,
  Piper -> train); the others of their family are drawn as usual, counting the pinned ones.
* Speakers and ready-made-spoof generators that share clips form connected groups (union-find);
  a group goes wholly to one split, so no speaker or generator is in both train and test.
* Copy-synthesised clips take the split of the bona fide clip they copy (same words, same speaker)
  and only use vocoders of that split.
* dev = bona-fide-only groups held out whole, plus a hashed share of the speakers (or clips, for
  one-voice generators) of train groups: held-out speakers of the train generators, for early
  stopping and calibration. dev and train may share generators; test shares none with either.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) from the names given: the same names always give the same number."""
    digest = hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Unit:
    """One thing to split: an input clip or a generated utterance (copies follow their source)."""

    uid: str
    speaker: str
    generator: str | None  # None for bona fide
    family: str
    label: str


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def hold_out_generators(
    generators: dict[str, str], seed: int, test_fraction: float, fixed: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Per family, about `test_fraction` of the generators (at least one when the family has two or
    more, never all) -> "test"; the rest -> "train". `generators` maps name -> family.

    `fixed` pins generators by name (absent ones are ignored); they count towards their family's
    share, and the drawn ones still leave the family a training generator."""
    fixed = fixed or {}
    by_family: dict[str, list[str]] = defaultdict(list)
    for name, family in generators.items():
        by_family[family].append(name)
    out = {}
    for family, names in by_family.items():
        pinned = {n: fixed[n] for n in names if n in fixed}
        ordered = sorted((n for n in names if n not in pinned), key=lambda n: stable_unit(seed, "generator", n))
        n_test = 0 if len(names) < 2 else min(len(names) - 1, max(1, round(len(names) * test_fraction)))
        n_test -= sum(split == "test" for split in pinned.values())
        keep_train = 0 if "train" in pinned.values() else 1
        n_test = max(0, min(n_test, len(ordered) - keep_train))
        out.update(pinned)
        for i, name in enumerate(ordered):
            out[name] = "test" if i < n_test else "train"
    return out


def assign_splits(
    units: list[Unit],
    copy_generators: dict[str, str],
    seed: int,
    test_fraction: float = 0.2,
    dev_fraction: float = 0.1,
    fixed: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Return (split per unit uid, split per generator name); `fixed` pins generators (see above)."""
    generator_family = {u.generator: u.family for u in units if u.generator}
    generator_split = hold_out_generators({**generator_family, **copy_generators}, seed, test_fraction, fixed)

    uf = _UnionFind()
    for u in units:
        uf.find(f"s:{u.speaker}")
        if u.generator:
            uf.union(f"s:{u.speaker}", f"g:{u.generator}")
    groups: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        groups[uf.find(f"s:{u.speaker}")].append(u)

    group_split: dict[str, str] = {}
    free: list[str] = []
    for root, members in groups.items():
        votes: dict[str, int] = defaultdict(int)
        for u in members:
            if u.generator:
                votes[generator_split[u.generator]] += 1
        if not votes:
            free.append(root)
            continue
        # A group mixing held-out and training generators goes where most of its clips are;
        # its generators follow, so the generator split stays consistent.
        split = max(sorted(votes), key=lambda s: votes[s])
        group_split[root] = split
        for u in members:
            if u.generator:
                generator_split[u.generator] = split

    # Bona-fide-only groups fill test and dev up to their share of the bona fide clips.
    n_bona = sum(1 for u in units if u.label == "bonafide") or 1
    counts = defaultdict(int)
    for root, split in group_split.items():
        counts[split] += sum(1 for u in groups[root] if u.label == "bonafide")
    for root in sorted(free, key=lambda r: stable_unit(seed, "group", r)):
        size = len(groups[root])
        if counts["test"] + size <= test_fraction * n_bona:
            split = "test"
        elif counts["dev"] + size <= dev_fraction * n_bona:
            split = "dev"
        else:
            split = "train"
        group_split[root] = split
        counts[split] += size

    unit_split: dict[str, str] = {}
    for root, members in groups.items():
        split = group_split[root]
        speakers = {u.speaker for u in members}
        for u in members:
            if split == "train" and u.generator:
                # Held-out speakers of train generators (or clips, when a generator has few voices).
                key = u.speaker if len(speakers) >= 3 else u.uid
                unit_split[u.uid] = "dev" if stable_unit(seed, "dev", key) < dev_fraction else "train"
            else:
                unit_split[u.uid] = split
    return unit_split, generator_split
