# images-pipeline.sh: a digits training pipeline with drawing nodes, for the
# end-to-end shell tests that check what drawing does to a run; sourced
# after tap.sh.
#
# images_pipeline SRC DIGITS EVERY > OUT: DIGITS (a digits-*.pipeline of SRC's
# pipelines/) with its data path made absolute, sample 0 recorded, receptive
# fields of h1 after every epoch and an activity image of h1's excitatory
# rates every EVERY ticks.
images_pipeline() {
  local src=$1 digits=$2 every=$3
  sed -e "s#\.\./data/datasets#$src/data/datasets#" \
      -e 's/^network = out$/network = out\nrecord-sample = 0/' "$digits"
  cat <<EOF
[fields]
node = receptive-fields
layer = h1
units = 16
tile-width = 8
tile-height = 8
[rates]
node = activity-image
state = settle
layer = h1
signal = excitatory
every = $every
EOF
}
