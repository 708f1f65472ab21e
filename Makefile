# voxguard — one entry point. `make score` and `make test` each create/refresh the venv.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: score test bench bench-engines bench-memory train corpus eval-families eval-partial ablation probe install clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.14.1 torchaudio==2.11.0
	$(PY) -m pip install -q -e '.[dev,corpus]'
	@touch $(STAMP)

install: $(STAMP)

## Main job: score the bundled sample clips with local Ray and the bundled model.
score: $(STAMP)
	$(VENV)/bin/voxguard score examples/clips --out out/scores --overwrite

## The whole test suite (first installs the system packages it needs when run as root: scripts/system-deps).
test: $(STAMP)
	@bash scripts/system-deps
	$(PY) -m pytest -q -ra

## Benchmarks (not tests): speed and memory tables with ratios against baselines.
bench: $(STAMP)
	$(VENV)/bin/voxguard bench score --files 400 --engine int8

## Does a faster inference engine keep the bundled model's EER (test split + devset, within 0.5 point)?
bench-engines: $(STAMP)
	$(VENV)/bin/voxguard bench engines --engines float,bf16,int8 --devset ../shared/devset

## Peak memory of the pipeline at two archive sizes (streaming: it should not grow with the archive).
bench-memory: $(STAMP)
	$(VENV)/bin/voxguard bench score --files 0 --memory-scales 1000,5000

## Training data = the shared corpus (processed and augmented by `corpus build`) + the harvested
## demo-page corpus (imported by `corpus import`), merged into var/corpus/manifest.parquet.
## CORPUS_FAMILIES adds the generated spoofs (tts-classic,tts-neural,vocoder-copy: ~30 min more).
CORPUS_FAMILIES ?= bonafide,dataset-spoof
HARVEST_AUDIO   ?= var/harvest/audio
MIRROR_ROOT     ?= ../.mirror
corpus: $(STAMP)
	$(VENV)/bin/voxguard corpus build --bonafide ../shared/corpus --out var/corpus/base --workers 2 \
		--families $(CORPUS_FAMILIES) --hifigan-max 24 --no-audit
	$(VENV)/bin/voxguard corpus import ../shared/harvest/manifest.csv --out var/corpus/imports/harvest \
		--audio-root $(HARVEST_AUDIO) --mirror-root $(MIRROR_ROOT) --devset ../shared/devset \
		--exclude-system bonafide-prompt --workers 2
	$(VENV)/bin/voxguard corpus merge var/corpus/base var/corpus/imports/harvest --out var/corpus/manifest.parquet

## The bundled model (corpus cached: see the README's model card for the measured time). Clean copies only:
## the augmented ones cost transfer to unseen families (docs/model-card.md, 2 Dec night).
train: corpus
	$(VENV)/bin/voxguard train --manifest var/corpus/manifest.parquet --out models/voxguard-default.vxpkg \
		--epochs $(EPOCHS) --batches-per-epoch $(BATCHES) --patience 4 \
		--num-workers 1 --cpus-per-worker 2 --max-dev-clips 400 --name bundled --no-resume --no-augmentation
EPOCHS  ?= 10
BATCHES ?= 150

## Leave-family-out protocol: four folds, each trained without whole synthesis families; three seeds
## (one seed moves a fold by up to 14 points), ~35 min on 2 cores; then the operating-point report.
FOLD_SEEDS ?= 0,1,2
eval-families: $(STAMP)
	$(PY) -m jobs.evaluate.families --manifest var/corpus/manifest.parquet --out var/eval-families --seeds $(FOLD_SEEDS) --clean-only
	$(PY) -m jobs.evaluate.operating_points --run var/eval-families --manifest var/corpus/manifest.parquet

## Partially edited clips: does the worst segment of an edit score below its original's?
eval-partial: $(STAMP)
	$(PY) -m jobs.evaluate.partial --pairs ../shared/harvest/partial.csv --audio-root $(HARVEST_AUDIO) \
		--model models/voxguard-default.vxpkg --out var/eval-partial.md

## One short run per design choice, scored on the cross-corpus devset and the test split.
## `make ablation SEEDS=0,1,2 ONLY=baseline,encoder=conv` repeats runs to show the noise.
SEEDS ?= 0
ONLY  ?=
ablation: $(STAMP)
	$(PY) -m jobs.evaluate.ablation --manifest var/corpus/manifest.parquet --out var/ablation \
		--epochs 3 --batches-per-epoch 40 --num-workers 1 --cpus-per-worker 2 --max-eval-clips 300 \
		--seeds $(SEEDS) $(if $(ONLY),--only $(ONLY))

## Linear probe of every frozen Whisper layer (and resemblyzer when installed): the ceiling of the front-end.
probe: $(STAMP)
	$(PY) -m jobs.evaluate.probe --manifest var/corpus/manifest.parquet --out var/probe/probe.md \
		$$($(PY) -c 'import resemblyzer' 2>/dev/null && echo --resemblyzer)

clean-venv:
	rm -rf $(VENV)
