#!/usr/bin/env bash
# End-to-end runs of the Figure 3 and 4 pipelines (issue #7): each runs with
# disco-run and leaves its CSV tables and PNG plots; disco-plot draws a
# figure3 table with one x column per curve (--series); a shortened Figure 4
# run learns.
#   usage: test-figure-pipelines.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
. "$src/tests/common/tap.sh"
run=$build/tools/disco-run
plot=$build/tools/disco-plot

# A PNG signature and its IHDR size (width, height: big-endian at bytes 16–23).
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8 }'; }
is_png() { [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

# --- the three pipelines ------------------------------------------------------------
for case in "a-feedback a x,rE_4,rI_4,dw_4,dw_exact_4,rE_3,rI_3,dw_3,dw_exact_3" \
            "b-no-feedback b x,rE,rI,dw_1.5_1.5,dw_0.9_1.8,dw_exact" \
            "c-isolated c x,rE,dw_0.01,dw_0.67,dw_1.34,dw_2"; do
  set -- $case
  name=$1 panel=$2 header=$3
  out=$work/figure3-$panel
  "$run" -q -o "$out" "$src/pipelines/figure3-$name.pipeline" 2>"$work/err-$panel"
  # (under the sanitizers LSan may print its suppressions: only our messages count)
  check "figure3-$name runs" "[ $? -eq 0 ] && ! grep -q 'disco-run:' '$work/err-$panel'"
  csv=$out/figure3-$panel.csv
  png=$out/figure3-$panel.png
  check "figure3-$name: header of figure3-$panel.csv" "[ \"\$(head -n 1 '$csv')\" = '$header' ]"
  check "figure3-$name: 100 rows" "[ \$(wc -l < '$csv') -eq 101 ]"
  check "figure3-$name: the first row is x = 0" "[ \"\$(sed -n 2p '$csv' | cut -d, -f1)\" = 0 ]"
  check "figure3-$name: figure3-$panel.png is an 800×600 PNG" "is_png '$png' && [ \"\$(png_size '$png')\" = 800x600 ]"
  check "figure3-$name: no temporary files" "[ \"\$(ls '$out' | grep -v checkpoint | tr '\\n' ' ')\" = 'figure3-$panel.csv figure3-$panel.png ' ]"
done

# The last x of each sweep, as numpy.linspace ends it.
check "figure3-a sweeps x up to 10" "[ \"\$(tail -n 1 '$work/figure3-a/figure3-a.csv' | cut -d, -f1)\" = 10 ]"
check "figure3-b sweeps x up to 13" "[ \"\$(tail -n 1 '$work/figure3-b/figure3-b.csv' | cut -d, -f1)\" = 13 ]"
check "figure3-c sweeps x up to 9" "[ \"\$(tail -n 1 '$work/figure3-c/figure3-c.csv' | cut -d, -f1)\" = 9 ]"
# Signs the panels show: (b) Δw of the exact rule is ≈ 0 everywhere; (a) at
# the largest x the rate is above r_tar and the linear rule depresses.
check "figure3-b: exact rule |Δw| < 0.015" \
      "awk -F, 'NR > 1 { v = \$6 < 0 ? -\$6 : \$6; if (v >= 0.015) bad = 1 } END { exit bad }' '$work/figure3-b/figure3-b.csv'"
check "figure3-a: LTD at the largest input for both targets" \
      "tail -n 1 '$work/figure3-a/figure3-a.csv' | awk -F, '{ exit !(\$4 < 0 && \$8 < 0) }'"

# --- disco-plot --series: one x column per curve ----------------------------------------
"$plot" --csv "$work/figure3-a/figure3-a.csv" --series "rE_4:dw_4:r_tar = 4,rE_3:dw_3" \
        --width 640 --height 480 "$work/series.png" 2>"$work/err"
check "disco-plot --series draws a 640×480 PNG" "[ $? -eq 0 ] && is_png '$work/series.png' && [ \"\$(png_size '$work/series.png')\" = 640x480 ]"
"$plot" --csv "$work/figure3-c/figure3-c.csv" --series "rE:dw_0.01,x:rE" --log-y "$work/log.png" 2>"$work/err"
check "disco-plot --series --log-y draws a PNG" "[ $? -eq 0 ] && is_png '$work/log.png'"
"$plot" --csv "$work/figure3-a/figure3-a.csv" --series "rE_4:dw_5" "$work/bad.png" 2>"$work/err"
check "disco-plot --series with an unknown column exits 1 naming it" "[ $? -eq 1 ] && grep -qF 'figure3-a.csv:1: no column \"dw_5\"' '$work/err' && [ ! -e '$work/bad.png' ]"
"$plot" --csv "$work/figure3-a/figure3-a.csv" --series "rE_4" "$work/bad.png" 2>"$work/err"
check "disco-plot --series without X:Y exits 1 quoting it" "[ $? -eq 1 ] && grep -qF -- '--series: curve 1, \"rE_4\", is not X:Y' '$work/err' && [ ! -e '$work/bad.png' ]"
"$plot" --csv "$work/figure3-a/figure3-a.csv" --series "rE_4:dw_4" --x rE_4 "$work/bad.png" 2>"$work/err"
check "disco-plot --series with --x is a usage error (exit 2)" "[ $? -eq 2 ] && grep -qF -- '--series replaces --x and --y' '$work/err'"

# --- Figure 4, shortened: 2 burn-in and 8 training epochs -------------------------
# (the full 64 epochs take 35 s here; the README gives their figures)
short="input.epochs=10 linear.burn-in-epochs=2 exact.burn-in-epochs=2 losses.epochs=3-10
       costs.epochs=3-10 before.epochs=3 after.epochs=10"
out=$work/figure4
"$run" -q -o "$out" "$src/pipelines/figure4-student-teacher.pipeline" $short 2>"$work/err4"
check "figure4-student-teacher runs (shortened)" "[ $? -eq 0 ] && ! grep -q 'disco-run:' '$work/err4'"
losses=$out/figure4-losses.csv
check "figure4: header of figure4-losses.csv" \
      "[ \"\$(head -n 1 '$losses')\" = 'tick,epoch,L_linear,L_exact,H_linear,H_exact,CL_linear,CL_exact' ]"
check "figure4: one row per training epoch (3–10)" \
      "[ \$(wc -l < '$losses') -eq 9 ] && [ \"\$(sed -n 2p '$losses' | cut -d, -f2)\" = 3 ]"
check "figure4: both students start from the same weights (same first 𝓛)" \
      "sed -n 2p '$losses' | awk -F, '{ exit !(\$3 == \$4) }'"
# Both rules cut the open-loop loss by more than 10× in 8 epochs and lower the
# control cost; control keeps the closed loop far below the open loop.
check "figure4: 𝓛 falls more than 10× for both rules" \
      "awk -F, 'NR == 2 { a = \$3; b = \$4 } END { exit !(\$3 < a / 10 && \$4 < b / 10) }' '$losses'"
check "figure4: 𝓗 falls for both rules" \
      "awk -F, 'NR == 2 { a = \$5; b = \$6 } END { exit !(\$5 < a && \$6 < b) }' '$losses'"
check "figure4: the closed loop is within 1 % of the open-loop error" \
      "awk -F, 'NR == 2 { exit !(\$7 < \$3 / 100 && \$8 < \$4 / 100) }' '$losses'"
check "figure4: 5000 samples of t and two outputs per trace" \
      "[ \$(wc -l < '$out/figure4-before.csv') -eq 5001 ] && [ \"\$(head -n 1 '$out/figure4-after.csv')\" = 't,teacher_1,teacher_2,open_loop_1,open_loop_2,closed_loop_1,closed_loop_2' ]"
for png in figure4-open-loop-loss figure4-control-cost figure4-before figure4-after; do
  check "figure4: $png.png is an 800×600 PNG" "is_png '$out/$png.png' && [ \"\$(png_size '$out/$png.png')\" = 800x600 ]"
done

# --- resuming: the tables continue exactly ------------------------------------------
# Stopped after 5 of 10 epochs and resumed, the Figure 4 run writes the same
# bytes as the uninterrupted one (tables, traces, plots: the networks' state,
# weights and feedback weights come back from the checkpoint).
"$run" -q -o "$work/part4" "$src/pipelines/figure4-student-teacher.pipeline" $short pipeline.max-ticks=5 2>"$work/err" &&
  "$run" -q --resume "$work/part4" pipeline.max-ticks=0 2>>"$work/err"
check "figure4 resumed after 5 epochs equals the uninterrupted run" \
      "[ $? -eq 0 ] && cmp -s '$out/figure4-losses.csv' '$work/part4/figure4-losses.csv' && cmp -s '$out/figure4-after.csv' '$work/part4/figure4-after.csv' && cmp -s '$out/figure4-open-loop-loss.png' '$work/part4/figure4-open-loop-loss.png'"
# A stop inside an epoch: the rows of the unfinished epoch are dropped on
# resume and written again.
cat > "$work/sweeps.pipeline" <<'PIPELINE'
[x]
node = sweep-source
count = 7
batch-size = 3
epochs = 3
[t]
node = table-writer
index = true
column-1 = x
names = x
path = sweeps.csv
PIPELINE
"$run" -q -o "$work/sweeps" "$work/sweeps.pipeline" 2>"$work/err"
"$run" -q -o "$work/sweeps-part" "$work/sweeps.pipeline" pipeline.max-ticks=4 2>>"$work/err"
check "a stop inside epoch 2 leaves the rows up to then (7 + 3)" "[ \$(wc -l < '$work/sweeps-part/sweeps.csv') -eq 11 ]"
"$run" -q --resume "$work/sweeps-part" pipeline.max-ticks=0 2>>"$work/err"
check "resumed, the table equals the uninterrupted one (21 rows)" \
      "[ $? -eq 0 ] && cmp -s '$work/sweeps/sweeps.csv' '$work/sweeps-part/sweeps.csv'"

tap_done
