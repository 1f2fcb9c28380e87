/* disco-run.c: run a pipeline file
 *
 *   disco-run [-o OUTDIR] [-q] FILE [node.property=value ...]
 *   disco-run --resume OUTDIR [node.property=value ...]
 *                                  continue a stopped run from its last checkpoint
 *
 * Progress goes to stderr: one self-updating line on a terminal, plain
 * lines (at each epoch's end and at most every 10 s) otherwise. Exit status
 * 0 on success, 1 on any error (the message names file, line and node),
 * 2 on a usage error, 130 when interrupted (SIGINT or SIGTERM: between ticks).
 */
#include <disco/disco.h>
#include "disco-tool-format.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

typedef struct
{
  gboolean tty;
  gboolean quiet;
  gint64 start_us;
  gint64 last_print_us;
  GCancellable *cancellable;
} Progress;

static volatile sig_atomic_t interrupted;

static void
on_sigint (int signum)
{
  interrupted = 1;
}

static void
on_tick (DiscoPipeline *pipeline, DiscoTick *tick, Progress *progress)
{
  gint64 now = g_get_monotonic_time ();
  double elapsed = (now - progress->start_us) / 1e6;
  double rate = elapsed > 0 ? (tick->index + 1) / elapsed : 0;
  g_autofree char *eta = NULL;
  g_autofree char *spent = disco_tool_format_duration (elapsed);
  GString *line;

  /* The signal handler cannot cancel (not async-signal-safe); the run can. */
  if (interrupted)
    g_cancellable_cancel (progress->cancellable);
  if (progress->quiet)
    return;
  if (!progress->tty && !(tick->flags & DISCO_TICK_FLAG_EPOCH_END) &&
      now - progress->last_print_us < 10 * G_USEC_PER_SEC)
    return;
  if (progress->tty && now - progress->last_print_us < 100000 &&
      !(tick->flags & DISCO_TICK_FLAG_EPOCH_END))
    return;
  progress->last_print_us = now;

  line = g_string_new (NULL);
  if (tick->epoch > 0)
    {
      if (tick->n_epochs > 0)
        g_string_append_printf (line, "epoch %u/%u · ", tick->epoch, tick->n_epochs);
      else
        g_string_append_printf (line, "epoch %u · ", tick->epoch);
    }
  if (tick->phase != DISCO_PHASE_NONE)
    g_string_append_printf (line, "%s ", disco_phase_to_string (tick->phase));
  g_string_append_printf (line, "batch %u · tick %" G_GUINT64_FORMAT, tick->batch,
                          tick->index + 1);
  if (tick->n_ticks > 0)
    g_string_append_printf (line, "/%" G_GUINT64_FORMAT, tick->n_ticks);
  g_string_append_printf (line, " · %.1f ticks/s · %s", rate, spent);
  if (tick->n_ticks > tick->index + 1 && rate > 0)
    {
      eta = disco_tool_format_duration ((tick->n_ticks - tick->index - 1) / rate);
      g_string_append_printf (line, " · ETA %s", eta);
    }
  if (progress->tty)
    fprintf (stderr, "\r\033[K%s", line->str);
  else
    fprintf (stderr, "%s\n", line->str);
  g_string_free (line, TRUE);
}

int
main (int argc, char **argv)
{
  g_autofree char *output_dir = NULL;
  g_autofree char *resume = NULL;
  g_auto (GStrv) resume_overrides = NULL;
  g_autofree char *resume_file = NULL;
  gboolean quiet = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) pipeline = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GEnumClass) devices = NULL;
  Progress progress = { 0 };
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_dir,
      "Folder for results, checkpoints and images (overrides pipeline.output-dir)", "OUTDIR" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Show no progress", NULL },
    { "resume", 0, 0, G_OPTION_ARG_FILENAME, &resume,
      "Continue the run in OUTDIR from its last checkpoint (same file and overrides)", "OUTDIR" },
    G_OPTION_ENTRY_NULL
  };
  gboolean ok;

  setlocale (LC_ALL, "");
  context = g_option_context_new ("FILE [node.property=value ...] - run a Disco pipeline");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("disco-run: %s\n", error->message);
      return 2;
    }
  if (resume != NULL)
    {
      /* The checkpoint names the file and overrides the run was started with. */
      g_autofree char *state_path = g_build_filename (resume, "checkpoint", "state.ini", NULL);
      g_autoptr (GKeyFile) state = g_key_file_new ();

      if (output_dir != NULL)
        {
          g_printerr ("disco-run: --resume continues in its own folder; it takes no -o\n");
          return 2;
        }
      if (!g_key_file_load_from_file (state, state_path, G_KEY_FILE_NONE, &error) ||
          (resume_file = g_key_file_get_string (state, "run", "file", &error)) == NULL)
        {
          g_printerr ("disco-run: %s: cannot resume: %s\n", state_path, error->message);
          return 1;
        }
      /* The run's overrides, then any given now (e.g. pipeline.max-ticks=0). */
      {
        g_auto (GStrv) stored = g_key_file_get_string_list (state, "run", "overrides", NULL, NULL);
        GStrvBuilder *builder = g_strv_builder_new ();

        if (stored != NULL)
          g_strv_builder_addv (builder, (const char **) stored);
        for (int i = 1; i < argc; i++)
          g_strv_builder_add (builder, argv[i]);
        resume_overrides = g_strv_builder_end (builder);
        g_strv_builder_unref (builder);
      }
      pipeline = disco_pipeline_new_from_file (resume_file,
                                               (const char *const *) resume_overrides, &error);
      if (pipeline != NULL)
        {
          g_autofree char *checkpoint = g_build_filename (resume, "checkpoint", NULL);
          g_object_set (pipeline, "output-dir", resume, "resume", checkpoint, NULL);
        }
    }
  else if (argc < 2)
    {
      g_printerr ("disco-run: no pipeline file given (usage: disco-run [-o OUTDIR] FILE "
                  "[node.property=value ...], or disco-run --resume OUTDIR)\n");
      return 2;
    }
  else
    pipeline = disco_pipeline_new_from_file (argv[1], (const char *const *) argv + 2, &error);
  if (pipeline == NULL)
    {
      g_printerr ("disco-run: %s\n", error->message);
      return 1;
    }
  if (output_dir != NULL)
    g_object_set (pipeline, "output-dir", output_dir, NULL);

  devices = g_type_class_ref (DISCO_TYPE_DEVICE);
  if (!quiet)
    {
      DiscoDevice requested;
      g_object_get (pipeline, "device", &requested, NULL);
      g_printerr ("disco-run: %s%s on %s (requested: %s)%s%s\n",
                  resume != NULL ? "resuming " : "", resume != NULL ? resume_file : argv[1],
                  g_enum_get_value (devices, disco_pipeline_get_active_device (pipeline))->value_nick,
                  g_enum_get_value (devices, requested)->value_nick,
                  disco_pipeline_get_output_dir (pipeline) ? ", writing to " : "",
                  disco_pipeline_get_output_dir (pipeline) ? disco_pipeline_get_output_dir (pipeline) : "");
    }

  progress.tty = isatty (STDERR_FILENO);
  progress.quiet = quiet;
  progress.start_us = g_get_monotonic_time ();
  progress.cancellable = cancellable;
  g_signal_connect (pipeline, "tick", G_CALLBACK (on_tick), &progress);
  /* SIGTERM (a batch system's, or disco-sweep's) stops as Ctrl-C does. */
  signal (SIGINT, on_sigint);
  signal (SIGTERM, on_sigint);

  ok = disco_pipeline_run (pipeline, cancellable, &error);
  if (progress.tty && !quiet)
    fputc ('\n', stderr);
  if (!ok)
    {
      g_printerr ("disco-run: %s\n", error->message);
      return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? 130 : 1;
    }
  if (!quiet)
    {
      g_autofree char *spent = disco_tool_format_duration ((g_get_monotonic_time () - progress.start_us) / 1e6);
      g_printerr ("disco-run: done in %s\n", spent);
    }
  return 0;
}
