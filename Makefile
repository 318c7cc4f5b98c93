# The two commands of the course: `make lab` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnlab-installed
LAB_ARGS ?=
# Compiled kernels land here once per checkout and are reused by every later run.
export TORCH_EXTENSIONS_DIR ?= $(CURDIR)/.cache/torch_extensions

.PHONY: lab test setup outputs release handout

setup: $(STAMP)

# Re-running is a no-op until requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "cnnlab needs Python 3.11+ (found " + sys.version.split()[0] + ")"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	# JupyterLab's defaults for this environment: no pop-up asking to fetch news from the internet.
	mkdir -p $(VENV)/share/jupyter/lab/settings
	printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $@

# Jupyter refuses root unless told; containers often run as root.
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Unit tests, then nbval: strict on solutions/ (stored outputs compared, on the oldest CPU code
# paths), lax on notebooks/.
# Two test workers share the cores, so each (and each notebook kernel) gets one thread: more would
# only wait on each other. Tests about threading set their own count. Checkpoints go to a scratch
# folder emptied first, so every run trains from scratch and no learner's checkpoint is touched.
TEST_CHECKPOINTS := $(CURDIR)/.cache/test-checkpoints
TEST_ENV := CNNLAB_PROFILE=smoke OMP_NUM_THREADS=1 CNNLAB_CHECKPOINTS=$(TEST_CHECKPOINTS)
# Stored outputs are made on the default code paths (make outputs) and compared on the oldest ones
# (torch's non-vectorised kernels, MKL's SSE4.2 path): a printed digit that depends on the CPU,
# its BLAS or its vector width then fails here, not on a learner's laptop.
PORTABLE_ENV := ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2
test: setup
	rm -rf $(TEST_CHECKPOINTS)
	$(BIN)/python -m cnnlab.release --check
	$(BIN)/ruff check cnnlab tests benchmarks
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 tests
	$(TEST_ENV) $(PORTABLE_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --nbval \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env solutions
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax --nbval-current-env notebooks

# Instructors: re-execute solutions/ in the smoke profile so nbval has fresh outputs to compare,
# then regenerate the student copies.
outputs: setup
	rm -rf $(TEST_CHECKPOINTS)
	$(TEST_ENV) $(BIN)/python -m cnnlab.release --execute solutions/*.ipynb
	$(BIN)/python -m cnnlab.release

release: setup
	$(BIN)/python -m cnnlab.release

# Instructors: what to hand out (student notebooks on the student edition of cnnlab).
HANDOUT ?= handout
handout: setup
	$(BIN)/python -m cnnlab.release --bundle $(HANDOUT)
