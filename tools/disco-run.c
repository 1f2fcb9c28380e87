/* disco-run.c: run a pipeline file
 *
 *   disco-run [-o OUTDIR] [-q] [--overwrite] [--threads N] FILE [node.property=value ...]
 *   disco-run --resume OUTDIR [--force] [node.property=value ...]
 *                                  continue a stopped run from its last checkpoint
 *
 * One run per output folder: a second run into a folder in use is refused,
 * naming the process that holds it; a new run into a folder that holds a
 * previous run is refused unless --overwrite, which first removes exactly
 * what that run wrote. --resume continues only a checkpoint that proves
 * itself (every file as its manifest lists it) and was written by this very
 * pipeline file; --force accepts a pipeline file changed since (a comment,
 * say), never a changed checkpoint.
 *
 * Progress goes to stderr: one self-updating line on a terminal, plain
 * lines (at each epoch's end and at most every 10 s) otherwise. Exit status
 * 0 on success, 1 on any error (the message names file, line and node),
 * 2 on a usage error, 130 when interrupted (SIGINT or SIGTERM: between ticks).
 */
#include <disco/disco.h>
#include "disco-tool-format.h"
#include "disco-tool-pipelines.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The most CPU threads a run takes: DISCO_PARALLEL_MAX_THREADS of the
 * kernels (kernels/disco-parallel.h), which live in the node plugin. */
#define MAX_THREADS 256

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
  if (!progress->tty && !(tick->flags & DISCO_TICK_FLAG_EPOCH_END)
      && now - progress->last_print_us < 10 * G_USEC_PER_SEC)
    return;
  if (progress->tty && now - progress->last_print_us < 100000
      && !(tick->flags & DISCO_TICK_FLAG_EPOCH_END))
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
  g_string_append_printf (line, "batch %u · tick %" G_GUINT64_FORMAT, tick->batch, tick->index + 1);
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
  g_autofree char *resume_checksum = NULL;
  gboolean quiet = FALSE;
  gboolean overwrite = FALSE;
  gboolean force = FALSE;
  gboolean resume_flags = FALSE;
  gboolean list_pipelines = FALSE;
  gint threads = G_MININT; /* not given */
  g_autofree char *file = NULL;
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
    { "overwrite", 0, 0, G_OPTION_ARG_NONE, &overwrite,
      "Replace a previous run in OUTDIR: first remove the files it wrote, results.json and "
      "its checkpoint (other files stay)",
      NULL },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force,
      "With --resume: continue although the pipeline file changed since the checkpoint "
      "(e.g. a comment); the checkpoint's own files are always checked",
      NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "CPU threads the run's operations share (default: $DISCO_THREADS, else one per core); "
      "results do not depend on it",
      "N" },
    { "list-pipelines", 0, 0, G_OPTION_ARG_NONE, &list_pipelines,
      "List the pipelines a NAME can stand for, with their first comment line", NULL },
    G_OPTION_ENTRY_NULL
  };
  gboolean ok;

  setlocale (LC_ALL, "");
  context = g_option_context_new ("FILE|NAME [node.property=value ...] - run a Disco pipeline");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
      context,
      "FILE is a pipeline file. A NAME that is not a file names an example pipeline: \"quick\"\n"
      "is quick.pipeline, looked up in the current folder, then in each folder of\n"
      "$DISCO_PIPELINE_PATH (colon-separated), then in " DISCO_PIPELINE_DIR ".\n"
      "Relative data paths (path = ../data/datasets/mnist) are looked up beside the file,\n"
      "in the current folder, then, without their leading ../, in each folder of\n"
      "$DISCO_DATA_PATH, in $XDG_DATA_HOME/disco-1.0 and in the installed disco-1.0 folder.\n"
      "\n"
      "Exit status: 0 on success, 1 on any error (the message names file, line and node),\n"
      "2 on a usage error, 130 when interrupted (SIGINT or SIGTERM: between ticks).\n"
      "\n"
      "Example: disco-run -o runs/quick quick data.epochs=1");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("disco-run: %s\n", error->message);
      return 2;
    }
  if (list_pipelines)
    {
      disco_tool_list_pipelines ();
      return 0;
    }
  if (threads != G_MININT)
    {
      g_autofree char *count = g_strdup_printf ("%d", threads);

      if (threads < 1 || threads > MAX_THREADS)
        {
          g_printerr ("disco-run: --threads takes a count from 1 to %d, not %d\n", MAX_THREADS,
                      threads);
          return 2;
        }
      /* The kernels read it when they first run (they live in the node
       * plugin, which this program does not link). */
      g_setenv ("DISCO_THREADS", count, TRUE);
    }
  else if (g_getenv ("DISCO_THREADS") != NULL
           && !g_ascii_string_to_unsigned (g_getenv ("DISCO_THREADS"), 10, 1, MAX_THREADS, NULL,
                                           NULL))
    {
      g_printerr ("disco-run: DISCO_THREADS=\"%s\" is not a count from 1 to %d\n",
                  g_getenv ("DISCO_THREADS"), MAX_THREADS);
      return 2;
    }
  /* "--resume --force OUTDIR" (and -q there): the option took the flag. */
  while (resume != NULL && resume[0] == '-')
    {
      resume_flags = TRUE;
      if (strcmp (resume, "--force") == 0)
        force = TRUE;
      else if (strcmp (resume, "-q") == 0 || strcmp (resume, "--quiet") == 0)
        quiet = TRUE;
      else
        break;
      g_free (resume);
      resume = NULL;
      if (argc >= 2)
        {
          resume = g_strdup (argv[1]);
          memmove (argv + 1, argv + 2, (argc - 1) * sizeof *argv);
          argc--;
        }
    }
  if ((resume != NULL && resume[0] == '-') || (resume_flags && resume == NULL))
    {
      g_printerr ("disco-run: --resume takes the run's folder (disco-run --resume OUTDIR "
                  "[--force]), not %s\n",
                  resume ? resume : "nothing");
      return 2;
    }
  if (force && resume == NULL)
    {
      g_printerr ("disco-run: --force goes with --resume\n");
      return 2;
    }
  if (resume != NULL)
    {
      /* The checkpoint names the file and overrides the run was started with. */
      g_autofree char *checkpoint = g_build_filename (resume, "checkpoint", NULL);
      g_autoptr (GKeyFile) state = NULL;

      if (output_dir != NULL || overwrite)
        {
          g_printerr ("disco-run: --resume continues in its own folder; it takes no -o "
                      "and no --overwrite\n");
          return 2;
        }
      /* Every file as the manifest lists it, before anything is loaded. */
      state = disco_checkpoint_verify (checkpoint, &error);
      if (state == NULL
          || (resume_file = g_key_file_get_string (state, "run", "file", &error)) == NULL)
        {
          g_printerr ("disco-run: cannot resume %s: %s\n", resume, error->message);
          return 1;
        }
      resume_checksum = g_key_file_get_string (state, "run", "file-sha256", NULL);
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
      pipeline = disco_pipeline_new_from_file (resume_file, (const char *const *) resume_overrides,
                                               &error);
      if (pipeline != NULL)
        {
          const char *now = disco_pipeline_get_source_checksum (pipeline);

          /* The same file, byte for byte, or --force. */
          if (g_strcmp0 (now, resume_checksum) != 0)
            {
              if (!force)
                {
                  g_printerr ("disco-run: cannot resume %s: %s changed since the checkpoint "
                              "was written (SHA-256 %.12s…, the checkpoint records %.12s…); "
                              "if the change does not alter the run (a comment, say), "
                              "resume with --force\n",
                              resume, resume_file, now ? now : "(none)",
                              resume_checksum ? resume_checksum : "(none)");
                  return 1;
                }
              g_printerr ("disco-run: %s changed since the checkpoint was written; resuming "
                          "anyway (--force)\n",
                          resume_file);
            }
          g_object_set (pipeline, "output-dir", resume, "resume", checkpoint, NULL);
        }
    }
  else if (argc < 2)
    {
      g_printerr ("disco-run: no pipeline file given (usage: disco-run [-o OUTDIR] FILE "
                  "[node.property=value ...], or disco-run --resume OUTDIR)\n");
      return 2;
    }
  else if ((file = disco_tool_find_pipeline (argv[1])) == NULL)
    {
      g_autofree char *message = disco_tool_pipeline_not_found ("disco-run", argv[1]);
      g_printerr ("%s\n", message);
      return 1;
    }
  else
    pipeline = disco_pipeline_new_from_file (file, (const char *const *) argv + 2, &error);
  if (pipeline == NULL)
    {
      g_printerr ("disco-run: %s\n", error->message);
      return 1;
    }
  if (output_dir != NULL)
    g_object_set (pipeline, "output-dir", output_dir, NULL);
  /* A new run does not mix its files with a previous run's. */
  if (resume == NULL)
    disco_pipeline_set_output_mode (pipeline, overwrite ? DISCO_OUTPUT_MODE_OVERWRITE
                                                        : DISCO_OUTPUT_MODE_NEW);

  devices = g_type_class_ref (DISCO_TYPE_DEVICE);
  if (!quiet)
    {
      DiscoDevice requested;
      g_object_get (pipeline, "device", &requested, NULL);
      g_printerr (
          "disco-run: %s%s on %s (requested: %s)%s%s\n", resume != NULL ? "resuming " : "",
          resume != NULL ? resume_file : file,
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
      g_autofree char *spent =
          disco_tool_format_duration ((g_get_monotonic_time () - progress.start_us) / 1e6);
      g_printerr ("disco-run: done in %s\n", spent);
    }
  return 0;
}
