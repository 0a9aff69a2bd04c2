# dallm: two commands set up a fresh machine.
#   make reproduce   venv + packages, then every chapter notebook through papermill (profile: smoke)
#   make test        venv + packages, then nbdev_clean/nbdev_export checks, nbdev_test and pytest
PYTHON ?= python3
# empty: the DALLM_PROFILE setting (environment or .env), else smoke
PROFILE ?=
VENV := .venv
BIN := $(VENV)/bin
DEPS_HASH := $(shell cat settings.ini setup.py scripts/build_llama.sh | md5sum | cut -c1-10)
STAMP := $(VENV)/.installed-$(DEPS_HASH)
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export MPLBACKEND = Agg
# llama-cpp-python compiles from source with one CPU backend per instruction set, loaded at run time by what the
# processor supports (scripts/build_llama.sh: about 7 min on 2 cores, once; the wheel is cached in ~/.cache/dallm).

.PHONY: install kernel lab reproduce report docs readme browser test check-nbdev nbtest pytest bench clean-outputs neo4j-start neo4j-stop

$(STAMP): settings.ini setup.py scripts/build_llama.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	BIN=$(BIN) bash scripts/build_llama.sh
	$(BIN)/python -m pip install -q -e ".[dev,llm,eval,graph,report]"
	$(BIN)/python -m pip install -q --no-deps $$(sed -n 's/^nodeps_requirements *= *//p' settings.ini)
	rm -f $(VENV)/.installed-*
	touch $@

# the project's Jupyter kernel, registered inside the venv (JupyterLab, papermill and `dallm reproduce` use it)
KERNEL := $(VENV)/share/jupyter/kernels/dallm/kernel.json
$(KERNEL): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name dallm --display-name "dallm (.venv)" \
		--env PYTHONWARNINGS "ignore:IProgress not found" --env MPLBACKEND "module://matplotlib_inline.backend_inline" >/dev/null
	touch $@

install: $(STAMP) $(KERNEL)

kernel: $(KERNEL)

# JupyterLab on the project's venv, with the `dallm` kernel; Neo4j is not started (dallm neo4j start|stop)
lab: install
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR) --MappingKernelManager.default_kernel_name=dallm $(if $(filter 0,$(shell id -u)),--allow-root)

reproduce: install
	BIN=$(BIN) bash scripts/with_neo4j.sh $(BIN)/dallm reproduce $(if $(PROFILE),--profile $(PROFILE))
	$(BIN)/dallm report $(if $(PROFILE),--profile $(PROFILE))

# the run's report alone (results/<profile>/report/index.html), from the tables already there
report: install
	$(BIN)/dallm report $(if $(PROFILE),--profile $(PROFILE))

# the committed report in docs/ (a static host serves it), from the last `make reproduce` of the smoke profile
docs: install
	$(BIN)/dallm report --profile smoke --out docs
	du -sh docs

# README.md is generated from nbs/index.ipynb (check-nbdev fails when they differ)
readme: install
	$(BIN)/python -c "from dallm.report import readme_from_notebook as r; open('README.md', 'w', encoding='utf-8').write(r('nbs/index.ipynb'))"

# headless Chromium for the report's browser test (Debian's packages; no browser download at run time)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	  else echo "the report test needs Chromium: sudo apt-get install chromium chromium-driver"; exit 1; fi

check-nbdev: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/check_nbdev.sh

# notebooks run as tests with their default (small) parameters, two at a time with one thread each (llama.cpp and
# torch slow down badly when oversubscribed); their data and tables go to .cache/nbtest, not over data/ and results/.
# 00_ingest first (the later chapters read the cohort and the chunks it writes), then 03_augment (04 reads its tables).
NBTEST_ENV = DALLM_DATA_DIR=.cache/nbtest/data DALLM_RESULTS_DIR=.cache/nbtest/results DALLM_PROFILE=smoke \
	DALLM_LLM_THREADS=1 OMP_NUM_THREADS=1
nbtest: install
	$(NBTEST_ENV) $(BIN)/nbdev_test --path nbs/00_ingest.ipynb
	$(NBTEST_ENV) DALLM_LLM_THREADS=2 $(BIN)/nbdev_test --path nbs/03_augment.ipynb
	$(NBTEST_ENV) $(BIN)/nbdev_test --n_workers 2 --skip_file_re '^[_.]|^00_ingest|^03_augment'

pytest: install
	$(BIN)/python -m pytest tests --durations=20

# the tests talk to a real Neo4j: started before nbtest/pytest and stopped after, whatever their outcome
test: check-nbdev browser
	BIN=$(BIN) bash scripts/with_neo4j.sh $(MAKE) --no-print-directory nbtest pytest

neo4j-start: install
	$(BIN)/dallm neo4j start

neo4j-stop: install
	$(BIN)/dallm neo4j stop

bench: install
	$(BIN)/python bench/bench_cohort.py
	$(BIN)/python bench/bench_llm.py
	$(BIN)/python bench/bench_evaluate.py
	$(BIN)/python bench/bench_augment.py
	BIN=$(BIN) bash scripts/with_neo4j.sh $(BIN)/python bench/bench_retrieval.py

clean-outputs:
	rm -rf runs results
