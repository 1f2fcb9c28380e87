/* disco-sweep-file.h: sweep files, and the runs they expand to
 *
 * A sweep file (the key-file dialect of pipelines; every error is
 * "file:line: ...") names pipelines, seeds, overrides for every run and an
 * optional grid; disco_sweep_plan_load() expands it to one DiscoSweepRun per
 * pipeline × grid point × seed, each with its own folder.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * DiscoSweepRun:
 * @index: position in the plan (pipeline, then grid point, then seed)
 * @pipeline_file: the pipeline file, absolute
 * @pipeline: its name: the file name without ".pipeline"
 * @grid_point: the grid point's assignments joined by ",", "" without a grid;
 *   also its folder's name
 * @seed: the run's seed (`pipeline.seed`)
 * @overrides: every override of the run, in the order applied: the sweep
 *   file's [overrides], the grid point, the command line, then
 *   `pipeline.seed=N`
 * @dir: the run's folder: `<output-dir>/<pipeline>/[<grid point>/]seed-<seed>`
 * @cost: relative cost estimate, to hand out the longest runs first
 */
typedef struct
{
  guint index;
  char *pipeline_file;
  char *pipeline;
  char *grid_point;
  guint seed;
  char **overrides;
  char *dir;
  double cost;
} DiscoSweepRun;

/**
 * DiscoSweepPlan:
 * @file: the sweep file as given
 * @output_dir: where the runs' folders and the report go
 * @runs: (element-type DiscoSweepRun): every run
 */
typedef struct
{
  char *file;
  char *output_dir;
  GPtrArray *runs;
} DiscoSweepPlan;

/**
 * DiscoSweepOptions:
 * @overrides: (nullable): node.property=value for every run, applied after
 *   the file's [overrides] and grid point
 * @output_dir: (nullable): replaces the file's output-dir
 * @seeds: (nullable): replaces the file's seeds ("0-2")
 * @only: (nullable): keeps the pipelines whose name matches this pattern
 *   ("*-1x256-*")
 *
 * What the command line changes of a sweep file. A part of a sweep chosen by
 * @seeds and @only has the same run folders as the whole sweep, which then
 * skips the runs the part finished.
 */
typedef struct
{
  const char *const *overrides;
  const char *output_dir;
  const char *seeds;
  const char *only;
} DiscoSweepOptions;

DiscoSweepPlan *disco_sweep_plan_load (const char *path, const DiscoSweepOptions *options,
                                       GError **error);
DiscoSweepPlan *disco_sweep_plan_load_from_text (const char *text, gssize length, const char *label,
                                                 const char *base_dir,
                                                 const DiscoSweepOptions *options, GError **error);
void disco_sweep_plan_free (DiscoSweepPlan *plan);
gboolean disco_sweep_parse_seeds (const char *text, const char *where, GArray **seeds,
                                  GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoSweepPlan, disco_sweep_plan_free)

G_END_DECLS
