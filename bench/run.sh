#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark from the build directory and prints its figures.
set -e
cd "${1:-.}"
./bench/decide ./ztd
./bench/attest ./ztd
