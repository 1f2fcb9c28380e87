#!/usr/bin/env bash
# make-fixtures.sh: cut the tiny test fixtures in data/fixtures/ out of the
# installed datasets.
#
# Usage: data/make-fixtures.sh [DATASET_DIR]
#
# DATASET_DIR defaults to <repo>/data/datasets (run data/install-datasets.sh
# first). Writes, replacing what is there:
#
#   fixtures/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte     raw IDX
#   fixtures/mnist-gz/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz  the same, gzipped
#   fixtures/digits/digits.csv.gz                                    first 30 lines
#
# An IDX fixture is the original header, with the count patched to
# $N_IDX_RECORDS, followed by the first $N_IDX_RECORDS records, so its
# records equal the first records of the full set (the tests check this).
# gzip -n leaves out the name and time stamp: rerunning the script gives
# byte-identical files and no spurious diff.

set -euo pipefail

readonly N_IDX_RECORDS=20
readonly N_DIGITS_LINES=30

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dataset_dir=${1:-"$script_dir/datasets"}
fixtures_dir="$script_dir/fixtures"

die () { echo "make-fixtures: ERROR: $*" >&2; exit 1; }

[[ -d "$dataset_dir/mnist" && -d "$dataset_dir/digits" ]] \
  || die "no datasets in $dataset_dir; run $script_dir/install-datasets.sh first"

# be32 N: N as four big-endian bytes, as the IDX header stores sizes.
be32 () {
  local n=$1
  printf "\\$(printf %03o $(((n >> 24) & 255)))\\$(printf %03o $(((n >> 16) & 255)))"
  printf "\\$(printf %03o $(((n >> 8) & 255)))\\$(printf %03o $((n & 255)))"
}

# cut_idx SRC DST HEADER_SIZE RECORD_SIZE: magic, patched count, the rest of
# the header and the first N_IDX_RECORDS records of SRC.
cut_idx () {
  local src=$1 dst=$2 header_size=$3 record_size=$4
  local keep=$((header_size + N_IDX_RECORDS * record_size))
  [[ -f "$src" ]] || die "$src missing; run $script_dir/install-datasets.sh"
  {
    head -c 4 "$src"
    be32 "$N_IDX_RECORDS"
    # head before tail: tail reads its whole input, so no SIGPIPE under pipefail.
    head -c "$keep" "$src" | tail -c +9
  } > "$dst"
  [[ $(stat -c %s "$dst") -eq $keep ]] || die "$dst: wrong size"
}

mkdir -p "$fixtures_dir/mnist" "$fixtures_dir/mnist-gz" "$fixtures_dir/digits"

for split in train t10k; do
  # 28x28 images: 16-byte header (magic, count, rows, cols), 784 bytes a record.
  cut_idx "$dataset_dir/mnist/$split-images-idx3-ubyte" \
          "$fixtures_dir/mnist/$split-images-idx3-ubyte" 16 $((28 * 28))
  # Labels: 8-byte header (magic, count), one byte a record.
  cut_idx "$dataset_dir/mnist/$split-labels-idx1-ubyte" \
          "$fixtures_dir/mnist/$split-labels-idx1-ubyte" 8 1
  for kind in images-idx3 labels-idx1; do
    gzip -n -9 -c "$fixtures_dir/mnist/$split-$kind-ubyte" \
      > "$fixtures_dir/mnist-gz/$split-$kind-ubyte.gz"
  done
done

digits_src="$dataset_dir/digits/digits.csv.gz"
[[ -f "$digits_src" ]] || die "$digits_src missing; run $script_dir/install-datasets.sh"
# zcat's whole output goes to a variable first, so head never cuts the pipe
# while zcat still writes (a SIGPIPE would fail the script under pipefail).
digits_csv=$(zcat -- "$digits_src")
head -n "$N_DIGITS_LINES" <<< "$digits_csv" | gzip -n -9 > "$fixtures_dir/digits/digits.csv.gz"

echo "make-fixtures: wrote $N_IDX_RECORDS-record MNIST fixtures and" \
     "$N_DIGITS_LINES-line digits fixture to $fixtures_dir"
