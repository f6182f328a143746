#!/usr/bin/env bash
# Fashion-MNIST comes from the Debian package dataset-fashion-mnist (never downloaded by code).
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
[ -f "$dir/t10k-labels-idx1-ubyte.gz" ] && exit 0
. "$(dirname "$0")/../apt.sh"
apt_install dataset-fashion-mnist
