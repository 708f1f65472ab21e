"""Split rules on synthetic units: deterministic, speaker- and generator-disjoint between train and test."""

from __future__ import annotations

from jobs.corpus.splits import Unit, assign_splits, hold_out_generators


def _units() -> list[Unit]:
    units = []
    for s in range(40):  # bona fide speakers
        units += [Unit(f"b{s}-{i}", f"spk{s}", None, "bonafide", "bonafide") for i in range(3)]
    for g in range(10):  # ready-made spoof sources, two share a speaker with bona fide spk0
        speaker = "spk0" if g < 2 else f"voice{g}"
        units += [Unit(f"g{g}-{i}", speaker, f"src{g}", "dataset-spoof", "spoof") for i in range(4)]
    for v in range(12):  # one TTS generator with many voices
        units.append(Unit(f"e{v}", f"espeak:{v}", "espeak-ng", "tts-classic", "spoof"))
    units.append(Unit("f0", "flite-kal", "flite-kal", "tts-classic", "spoof"))
    return units


def test_splits_are_disjoint_and_deterministic() -> None:
    units = _units()
    copy = {"world-copy": "vocoder-copy", "lpc-copy": "vocoder-copy", "gl-copy": "vocoder-copy"}
    split, gens = assign_splits(units, copy, seed=3)
    assert (split, gens) == assign_splits(list(reversed(units)), copy, seed=3)
    assert set(split.values()) == {"train", "dev", "test"}
    speakers = {s: {u.speaker for u in units if split[u.uid] == s} for s in ("train", "dev", "test")}
    generators = {s: {u.generator for u in units if u.generator and split[u.uid] == s} for s in ("train", "dev", "test")}
    assert not (speakers["train"] | speakers["dev"]) & speakers["test"]
    assert not (generators["train"] | generators["dev"]) & generators["test"]
    # Sources sharing speaker spk0 land together, with spk0's bona fide clips.
    assert len({split[u.uid] == "test" for u in units if u.speaker == "spk0"}) == 1
    assert {gens[g] for g in copy} == {"train", "test"}


def test_hold_out_keeps_a_training_generator_per_family() -> None:
    gens = hold_out_generators({"a": "f1", "b": "f1", "c": "f1", "solo": "f2"}, seed=1, test_fraction=0.9)
    assert gens["solo"] == "train"
    assert sorted(gens[n] for n in "abc").count("train") == 1


def test_pinned_generators_keep_their_split_and_the_rest_is_drawn() -> None:
    names = {"piper-joe": "tts-neural", "kokoro": "tts-neural", **{f"c{i}": "tts-classic" for i in range(8)}}
    pins = {"piper-joe": "train", "kokoro": "test", "absent": "test"}
    for seed in range(20):
        gens = hold_out_generators(names, seed=seed, test_fraction=0.2, fixed=pins)
        assert gens["kokoro"] == "test" and gens["piper-joe"] == "train" and "absent" not in gens
        classic = [gens[f"c{i}"] for i in range(8)]
        assert classic.count("test") == 2  # round(8 * 0.2): unchanged by pins in other families
    # A pinned test generator counts towards its family's share; the family keeps a training one.
    gens = hold_out_generators({"a": "f", "b": "f", "c": "f"}, seed=1, test_fraction=0.9, fixed={"a": "test"})
    assert gens["a"] == "test" and sorted(gens.values()).count("train") == 1
    units = [Unit("k", "kokoro:jf_alpha", "kokoro", "tts-neural", "spoof"),
             Unit("p", "piper-joe", "piper-joe", "tts-neural", "spoof"),
             *(Unit(f"b{i}", f"spk{i}", None, "bonafide", "bonafide") for i in range(10))]
    split, gens = assign_splits(units, {}, seed=0, fixed=pins)
    assert split["k"] == "test" and split["p"] in {"train", "dev"}
