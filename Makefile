# The two commands of the README, each safe to repeat:
#   make run    set up whatever is missing, then run the embedded default (the offline quickstart)
#   make test   set up whatever is missing (SLURM from Debian included), then run the whole test suite
# Set-up is setup.sh (Debian libraries as root, .venv, the package with its test extras); it
# reruns only when pyproject.toml or setup.sh changed, or .venv is gone.

VENV := .venv
READY := $(VENV)/.flip-installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test slurm

run: $(READY)
	snakemake --cores all

test: $(READY) slurm
	pytest

slurm:
	bash .ci/install_slurm.sh

$(READY): pyproject.toml setup.sh
	bash setup.sh
	touch $@
