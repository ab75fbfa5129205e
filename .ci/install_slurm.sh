#!/usr/bin/env bash
# Debian packages for the real single-node SLURM that tests/workflow/test_slurm.py starts
# (munge, slurmctld, slurmd and the client commands). Idempotent: installs only
# what is missing. Installing needs root and apt-get; without them, and SLURM not
# already there, it says so and exits 0, so that `make test` still runs the suite (the
# SLURM test then skips, and fails under CI=true). The test writes its own slurm.conf and
# munge key in a temporary folder and starts/stops the daemons itself; nothing
# here starts a service.
set -euo pipefail

PACKAGES=(munge slurmctld slurmd slurm-client)
COMMANDS=(munged slurmctld slurmd sbatch squeue sacct scontrol)

absent() {  # the commands of COMMANDS not on the PATH, space-separated
  local cmd out=()
  for cmd in "${COMMANDS[@]}"; do command -v "$cmd" >/dev/null 2>&1 || out+=("$cmd"); done
  echo "${out[*]}"
}

if [ -z "$(absent)" ]; then
  echo "install_slurm.sh: $(slurmctld -V) with munge ready"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "install_slurm.sh: SLURM is not installed ($(absent) missing) and installing it needs root" \
       "and apt-get; skipping it: tests/workflow/test_slurm.py will skip (and fail under CI=true)." \
       "To run it, install these Debian packages as root: ${PACKAGES[*]}" >&2
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  # policy-rc.d: no daemon is started at install time (the test starts its own, on
  # its own config); the file is removed again afterwards if we created it.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
if [ -n "$(absent)" ]; then
  echo "install_slurm.sh: $(absent) missing after install" >&2
  exit 1
fi
echo "install_slurm.sh: $(slurmctld -V) with munge ready"
