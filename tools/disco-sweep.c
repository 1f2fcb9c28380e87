/* disco-sweep.c: run a grid of pipelines × overrides × seeds, and report it
 *
 *   disco-sweep [-j N] [-o DIR] [-q] FILE.sweep [node.property=value ...]
 *   mpirun -n 40 disco-sweep FILE.sweep      the same, across machines
 *   disco-sweep --list FILE.sweep            the runs, without running them
 *   disco-sweep --report DIR                 write DIR's report again
 *
 * Every run is a disco-run process with its own folder
 * (<output-dir>/<pipeline>/[<grid point>/]seed-<n>/), so a run in a sweep
 * gives exactly what the same disco-run gives alone, and a crashing run takes
 * nothing else down: it is recorded as failed, with its last message, and the
 * others go on. Each run's folder holds sweep-run.ini (its overrides and
 * status: pending, running, stopped, finished, failed) beside disco-run's
 * results.json, checkpoint/ and run.log (its stderr).
 *
 * Where it runs: a local pool of -j worker processes (default: one per
 * core, each with its BLAS on one thread), or, when started by mpirun or
 * srun, one rank per worker (each with -j slots, default 1): rank 0 hands out
 * runs as workers ask for them, longest first, and writes the report; every
 * rank writes its runs' folders into the shared output folder. MPI is the
 * only transport.
 *
 * Stops and resumes: SIGINT or SIGTERM stops every run between ticks (its
 * last checkpoint is the end of its last whole epoch); running the same
 * command again skips finished runs, resumes the others from their
 * checkpoints and reruns failed ones. Exit status: 0 when every run
 * finished, 1 when a run failed or on a bad sweep file (nothing runs then),
 * 2 on a usage error, 130 when stopped.
 */
#include <disco/disco.h>
#include "disco-tool-format.h"
#include "disco-sweep-file.h"
#include "disco-sweep-report.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef DISCO_HAVE_MPI
#include <mpi.h>
#endif

typedef enum
{
  STATUS_PENDING,
  STATUS_RUNNING,
  STATUS_STOPPED,
  STATUS_FINISHED,
  STATUS_FAILED,
} RunStatus;

static const char *const status_names[] = { "pending", "running", "stopped", "finished", "failed" };

typedef struct _Sweep Sweep;

/* One disco-run process of this rank. */
typedef struct
{
  Sweep *sweep;
  DiscoSweepRun *run;
  GSubprocess *process;
  gint64 start_us;
} Child;

struct _Sweep
{
  DiscoSweepPlan *plan;
  char *disco_run; /* the disco-run executable */
  guint slots;     /* runs at once on this rank */
  gboolean quiet;
  gboolean tty;
  GMainLoop *loop;
  GPtrArray *children; /* Child */
  gboolean stopping;
  guint signals_seen;

  /* The coordinator's view (local pool, or MPI rank 0). */
  GQueue queue;      /* DiscoSweepRun, longest first */
  RunStatus *status; /* per run index */
  guint n_running, n_finished, n_failed, n_stopped, n_left;
  double cost_left;               /* of runs not finished */
  double seconds_done, cost_done; /* for the ETA */
  guint total_slots;
  gint64 last_progress_us;
  guint progress_width;

  /* MPI */
  int rank, size;
  gboolean mpi;
  guint workers_alive; /* rank 0: workers that have not said goodbye */
  gboolean no_more;    /* worker: rank 0 has nothing left to give */
  guint poll_source;
};

/* ----- run folders ----------------------------------------------------------- */

static int sweep_rank; /* this process's MPI rank, for sweep-run.ini */

static gboolean
write_run_state (DiscoSweepRun *run, RunStatus status, const char *message, int exit_status,
                 GError **error)
{
  g_autoptr (GKeyFile) state = g_key_file_new ();
  g_autofree char *path = g_build_filename (run->dir, "sweep-run.ini", NULL);
  g_autofree char *text = NULL;
  gsize length;

  if (g_mkdir_with_parents (run->dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot create the run's folder: %s",
                   run->dir, g_strerror (saved));
      return FALSE;
    }
  g_key_file_set_string (state, "run", "pipeline", run->pipeline);
  g_key_file_set_string (state, "run", "pipeline-file", run->pipeline_file);
  g_key_file_set_string (state, "run", "grid", run->grid_point);
  g_key_file_set_uint64 (state, "run", "seed", run->seed);
  g_key_file_set_string_list (state, "run", "overrides", (const char *const *) run->overrides,
                              g_strv_length (run->overrides));
  g_key_file_set_string (state, "run", "status", status_names[status]);
  g_key_file_set_string (state, "run", "message", message != NULL ? message : "");
  g_key_file_set_integer (state, "run", "exit-status", exit_status);
  g_key_file_set_string (state, "run", "host", g_get_host_name ());
  g_key_file_set_integer (state, "run", "rank", sweep_rank);
  text = g_key_file_to_data (state, &length, NULL);
  return disco_write_file_atomically (path, (const guint8 *) text, length, error);
}

/* What an earlier sweep left in @run's folder: its status, or PENDING when
 * there is nothing. A folder made for other overrides is an error: its
 * results would be reported as this run's. */
static gboolean
read_run_state (DiscoSweepRun *run, RunStatus *status, GError **error)
{
  g_autoptr (GKeyFile) state = g_key_file_new ();
  g_autofree char *path = g_build_filename (run->dir, "sweep-run.ini", NULL);
  g_autofree char *results = g_build_filename (run->dir, "results.json", NULL);
  g_autoptr (GError) read_error = NULL;
  g_auto (GStrv) overrides = NULL;
  g_autofree char *file = NULL;
  g_autofree char *text = NULL;

  *status = STATUS_PENDING;
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!g_key_file_load_from_file (state, path, G_KEY_FILE_NONE, &read_error)
      || (file = g_key_file_get_string (state, "run", "pipeline-file", &read_error)) == NULL
      || (overrides = g_key_file_get_string_list (state, "run", "overrides", NULL, &read_error))
             == NULL
      || (text = g_key_file_get_string (state, "run", "status", &read_error)) == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: not a sweep run's state (%s); remove the folder to run it anew", path,
                   read_error->message);
      return FALSE;
    }
  if (strcmp (file, run->pipeline_file) != 0
      || !g_strv_equal ((const char *const *) overrides, (const char *const *) run->overrides))
    {
      g_autofree char *was = g_strjoinv (" ", overrides);
      g_autofree char *now = g_strjoinv (" ", run->overrides);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: this folder holds a run of %s %s, not of %s %s: use another "
                   "output-dir, or remove the folder",
                   path, file, was, run->pipeline_file, now);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (strcmp (text, status_names[i]) == 0)
      *status = (RunStatus) i;
  /* Finished means a report to show for it; running means its sweep died. */
  if (*status == STATUS_FINISHED && !g_file_test (results, G_FILE_TEST_IS_REGULAR))
    *status = STATUS_PENDING;
  if (*status == STATUS_RUNNING)
    *status = STATUS_STOPPED;
  return TRUE;
}

/* The last line disco-run wrote: why it failed. */
static char *
last_message (DiscoSweepRun *run)
{
  g_autofree char *path = g_build_filename (run->dir, "run.log", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("(no run.log)");
  lines = g_strsplit (text, "\n", -1);
  for (gint i = (gint) g_strv_length (lines) - 1; i >= 0; i--)
    {
      char *line = g_strstrip (lines[i]);
      char *cr = strrchr (line, '\r');
      if (cr != NULL)
        line = cr + 1;
      if (*line != '\0')
        return g_strdup (line);
    }
  return g_strdup ("(run.log is empty)");
}

/* ----- disco-run processes ------------------------------------------------- */

static void child_exited (GObject *source, GAsyncResult *result, gpointer data);
static void run_finished (Sweep *self, DiscoSweepRun *run, RunStatus status, double seconds);

static gboolean
start_child (Sweep *self, DiscoSweepRun *run, GError **error)
{
  g_autofree char *log_path = g_build_filename (run->dir, "run.log", NULL);
  g_autofree char *state = g_build_filename (run->dir, "checkpoint", "state.ini", NULL);
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  Child *child;
  int fd;

  if (!write_run_state (run, STATUS_RUNNING, NULL, 0, error))
    return FALSE;
  fd = g_open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot open: %s", log_path,
                   g_strerror (saved));
      return FALSE;
    }
  g_ptr_array_add (argv, self->disco_run);
  g_ptr_array_add (argv, "-q");
  if (g_file_test (state, G_FILE_TEST_IS_REGULAR))
    {
      /* The checkpoint names the file and overrides. */
      g_ptr_array_add (argv, "--resume");
      g_ptr_array_add (argv, run->dir);
    }
  else
    {
      /* A fresh start replaces what a run that stopped before its first
       * checkpoint (or failed) left; sweep-run.ini and run.log stay. */
      g_ptr_array_add (argv, "--overwrite");
      g_ptr_array_add (argv, "-o");
      g_ptr_array_add (argv, run->dir);
      g_ptr_array_add (argv, run->pipeline_file);
      for (guint i = 0; run->overrides[i] != NULL; i++)
        g_ptr_array_add (argv, run->overrides[i]);
    }
  g_ptr_array_add (argv, NULL);
  {
    /* Which command ran where, before what it prints. */
    g_autofree char *command = g_strjoinv (" ", (char **) argv->pdata);
    g_autofree char *header = g_strdup_printf ("disco-sweep: on %s, rank %d: %s\n",
                                               g_get_host_name (), sweep_rank, command);
    if (write (fd, header, strlen (header)) < 0)
      { /* the log is a courtesy; the run's files are what count */
      }
  }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  /* One BLAS thread per run, and the cores shared among the runs at once
   * (the runs are the parallelism; idle workers spin for a while, so more
   * threads than cores would cost).  A DISCO_THREADS of the user's is
   * kept.  Results do not depend on it. */
  g_subprocess_launcher_setenv (launcher, "DISCO_BLAS_THREADS", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "OPENBLAS_NUM_THREADS", "1", TRUE);
  if (g_getenv ("DISCO_THREADS") == NULL)
    {
      /* Under mpirun, the ranks on this host share its cores too. */
      const char *local_ranks = g_getenv ("OMPI_COMM_WORLD_LOCAL_SIZE");
      guint64 ranks = 1;
      g_autofree char *threads = NULL;

      if (local_ranks == NULL
          || !g_ascii_string_to_unsigned (local_ranks, 10, 1, G_MAXUINT, &ranks, NULL))
        ranks = 1;
      threads = g_strdup_printf (
          "%u", MAX (1u, g_get_num_processors () / (guint) (MAX (1u, self->slots) * ranks)));

      g_subprocess_launcher_setenv (launcher, "DISCO_THREADS", threads, FALSE);
    }
  g_subprocess_launcher_take_stdout_fd (launcher, fd);

  child = g_new0 (Child, 1);
  child->sweep = self;
  child->run = run;
  child->start_us = g_get_monotonic_time ();
  child->process =
      g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, error);
  if (child->process == NULL)
    {
      g_free (child);
      return FALSE;
    }
  g_ptr_array_add (self->children, child);
  g_subprocess_wait_async (child->process, NULL, child_exited, child);
  return TRUE;
}

static void
child_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  Child *child = data;
  Sweep *self = child->sweep;
  GSubprocess *process = child->process;
  RunStatus status;
  int exit_status = -1;
  g_autofree char *message = NULL;
  g_autoptr (GError) error = NULL;
  double seconds = (g_get_monotonic_time () - child->start_us) / 1e6;

  g_subprocess_wait_finish (process, result, NULL);
  if (g_subprocess_get_if_exited (process))
    exit_status = g_subprocess_get_exit_status (process);
  if (exit_status == 0)
    status = STATUS_FINISHED;
  else if (self->stopping
           && (exit_status == 130
               || (g_subprocess_get_if_signaled (process)
                   && (g_subprocess_get_term_sig (process) == SIGINT
                       || g_subprocess_get_term_sig (process) == SIGTERM
                       || g_subprocess_get_term_sig (process) == SIGKILL))))
    status = STATUS_STOPPED;
  else
    {
      status = STATUS_FAILED;
      message = last_message (child->run);
      if (g_subprocess_get_if_signaled (process))
        {
          g_autofree char *detail = message;
          message = g_strdup_printf ("killed by signal %d (%s); last line: %s",
                                     g_subprocess_get_term_sig (process),
                                     g_strsignal (g_subprocess_get_term_sig (process)), detail);
        }
    }
  if (!write_run_state (child->run, status, message, exit_status, &error))
    g_printerr ("\ndisco-sweep: %s\n", error->message);
  /* Failures are said even with -q: they are errors, not progress. */
  if (status == STATUS_FAILED)
    g_printerr ("%sdisco-sweep: %s failed: %s\n", self->tty && !self->quiet ? "\r\033[K" : "",
                child->run->dir, message);
  g_ptr_array_remove (self->children, child);
  g_object_unref (process);
  run_finished (self, child->run, status, seconds);
  g_free (child);
}

static void
stop_children (Sweep *self, int signum)
{
  for (guint i = 0; i < self->children->len; i++)
    {
      Child *child = g_ptr_array_index (self->children, i);
      g_subprocess_send_signal (child->process, signum);
    }
}

/* ----- the coordinator ------------------------------------------------------ */

static void
show_progress (Sweep *self, gboolean force)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GString) line = g_string_new (NULL);

  if (self->quiet || (!force && !self->tty))
    return;
  if (!force && now - self->last_progress_us < 500000)
    return;
  self->last_progress_us = now;
  g_string_printf (line, "runs: %u done · %u running · %u failed · %u left", self->n_finished,
                   self->n_running, self->n_failed, self->n_left);
  if (self->n_stopped > 0)
    g_string_append_printf (line, " · %u stopped", self->n_stopped);
  if (self->cost_done > 0 && self->cost_left > 0 && !self->stopping)
    {
      g_autofree char *eta = disco_tool_format_duration (
          self->cost_left * self->seconds_done / self->cost_done / MAX (self->total_slots, 1));
      g_string_append_printf (line, " · ETA %s", eta);
    }
  if (self->stopping)
    g_string_append (line, " · stopping");
  if (self->tty)
    fprintf (stderr, "\r\033[K%s", line->str);
  else
    fprintf (stderr, "%s\n", line->str);
}

static void
write_report (Sweep *self)
{
  g_autoptr (GError) error = NULL;

  if (!disco_sweep_report_write (self->plan->output_dir, NULL, &error))
    g_printerr ("%sdisco-sweep: %s\n", self->tty ? "\r\033[K" : "", error->message);
}

#ifdef DISCO_HAVE_MPI
/* Messages are four ints: type, run index, status, seconds (ms).
 * Worker → 0: REQUEST (a slot is free), RESULT, BYE.
 * 0 → worker: ASSIGN, NO_MORE, STOP. */
enum
{
  MSG_REQUEST,
  MSG_RESULT,
  MSG_BYE,
  MSG_STOP,
  MSG_ASSIGN,
  MSG_NO_MORE
};

static void
send_message (int rank, int type, int run_index, int status, int milliseconds)
{
  int message[4] = { type, run_index, status, milliseconds };

  MPI_Send (message, 4, MPI_INT, rank, 0, MPI_COMM_WORLD);
}
#endif

static gboolean all_done (Sweep *self);
static void fill_local_slots (Sweep *self);

/* On the coordinator: a run of this rank or of a worker ended. */
static void
coordinator_record (Sweep *self, DiscoSweepRun *run, RunStatus status, double seconds)
{
  self->status[run->index] = status;
  self->n_running--;
  switch (status)
    {
    case STATUS_FINISHED:
      self->n_finished++;
      self->cost_left -= run->cost;
      self->cost_done += run->cost;
      self->seconds_done += seconds;
      break;
    case STATUS_FAILED:
      self->n_failed++;
      self->cost_left -= run->cost;
      break;
    default: self->n_stopped++; break;
    }
  write_report (self);
  show_progress (self, !self->tty);
}

static void
run_finished (Sweep *self, DiscoSweepRun *run, RunStatus status, double seconds)
{
#ifdef DISCO_HAVE_MPI
  if (self->mpi && self->rank != 0)
    {
      send_message (0, MSG_RESULT, (int) run->index, (int) status,
                    (int) MIN (seconds * 1000, G_MAXINT));
      if (!self->no_more && !self->stopping)
        send_message (0, MSG_REQUEST, -1, 0, 0);
      if (all_done (self))
        g_main_loop_quit (self->loop);
      return;
    }
#endif
  coordinator_record (self, run, status, seconds);
  fill_local_slots (self);
  if (all_done (self))
    g_main_loop_quit (self->loop);
}

static DiscoSweepRun *
next_run (Sweep *self)
{
  DiscoSweepRun *run;

  if (self->stopping || (run = g_queue_pop_head (&self->queue)) == NULL)
    return NULL;
  self->n_left--;
  self->n_running++;
  self->status[run->index] = STATUS_RUNNING;
  return run;
}

static void
fill_local_slots (Sweep *self)
{
  while (self->children->len < self->slots)
    {
      g_autoptr (GError) error = NULL;
      DiscoSweepRun *run = next_run (self);

      if (run == NULL)
        break;
      if (!start_child (self, run, &error))
        {
          g_printerr ("%sdisco-sweep: %s: %s\n", self->tty ? "\r\033[K" : "", run->dir,
                      error->message);
          write_run_state (run, STATUS_FAILED, error->message, -1, NULL);
          coordinator_record (self, run, STATUS_FAILED, 0);
        }
    }
  show_progress (self, FALSE);
}

static gboolean
all_done (Sweep *self)
{
  if (self->children->len > 0)
    return FALSE;
#ifdef DISCO_HAVE_MPI
  if (self->mpi && self->rank != 0)
    return self->no_more || self->stopping;
  if (self->mpi && self->workers_alive > 0)
    return FALSE;
#endif
  return self->stopping || (g_queue_is_empty (&self->queue) && self->n_running == 0);
}

static gboolean
on_signal (gpointer data)
{
  Sweep *self = data;

  self->signals_seen++;
  if (!self->stopping)
    {
      self->stopping = TRUE;
      if (!self->quiet)
        g_printerr ("%sdisco-sweep: stopping every run at its next tick (again to kill)\n",
                    self->tty ? "\r\033[K" : "");
    }
  /* disco-run stops between ticks on SIGINT; a second signal kills. */
  stop_children (self, self->signals_seen > 1 ? SIGKILL : SIGINT);
#ifdef DISCO_HAVE_MPI
  if (self->mpi && self->rank == 0)
    for (int r = 1; r < self->size; r++)
      send_message (r, MSG_STOP, -1, 0, 0);
#endif
  if (all_done (self))
    g_main_loop_quit (self->loop);
  return G_SOURCE_CONTINUE;
}

/* ----- MPI ------------------------------------------------------------------ */

#ifdef DISCO_HAVE_MPI

static gboolean
poll_mpi (gpointer data)
{
  Sweep *self = data;
  int pending = 0;
  MPI_Status probe;

  while (MPI_Iprobe (MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, &pending, &probe) == MPI_SUCCESS && pending)
    {
      int m[4];

      MPI_Recv (m, 4, MPI_INT, probe.MPI_SOURCE, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (self->rank == 0)
        {
          if (m[0] == MSG_REQUEST)
            {
              DiscoSweepRun *run = next_run (self);
              send_message (probe.MPI_SOURCE, run != NULL ? MSG_ASSIGN : MSG_NO_MORE,
                            run != NULL ? (int) run->index : -1, 0, 0);
              show_progress (self, FALSE);
            }
          else if (m[0] == MSG_RESULT && m[1] >= 0 && (guint) m[1] < self->plan->runs->len)
            coordinator_record (self, g_ptr_array_index (self->plan->runs, m[1]), (RunStatus) m[2],
                                m[3] / 1000.0);
          else if (m[0] == MSG_BYE)
            self->workers_alive--;
        }
      else
        {
          g_autoptr (GError) error = NULL;

          if (m[0] == MSG_ASSIGN && m[1] >= 0 && (guint) m[1] < self->plan->runs->len)
            {
              DiscoSweepRun *run = g_ptr_array_index (self->plan->runs, m[1]);
              if (self->stopping)
                send_message (0, MSG_RESULT, m[1], STATUS_STOPPED, 0);
              else if (!start_child (self, run, &error))
                {
                  g_printerr ("disco-sweep: rank %d: %s: %s\n", self->rank, run->dir,
                              error->message);
                  write_run_state (run, STATUS_FAILED, error->message, -1, NULL);
                  run_finished (self, run, STATUS_FAILED, 0);
                }
            }
          else if (m[0] == MSG_NO_MORE)
            self->no_more = TRUE;
          else if (m[0] == MSG_STOP && !self->stopping)
            {
              self->stopping = TRUE;
              stop_children (self, SIGINT);
            }
        }
    }
  if (all_done (self))
    g_main_loop_quit (self->loop);
  return G_SOURCE_CONTINUE;
}
#endif

/* ----- planning ------------------------------------------------------------- */

/* A rough relative cost, only to hand out long runs first: epochs × units ×
 * (10 for an ODE solver, 1 for fixed points) × (2 for a closed loop). */
static double
estimate_cost (const DiscoSweepRun *run)
{
  g_autoptr (DiscoPipeline) pipeline =
      disco_pipeline_new_from_file (run->pipeline_file, (const char *const *) run->overrides, NULL);
  g_auto (GStrv) names = NULL;
  double epochs = 1, units = 0, solver = 1, loop = 1;

  if (pipeline == NULL)
    return 0; /* it will fail at once */
  names = disco_pipeline_list_nodes (pipeline);
  for (guint i = 0; names[i] != NULL; i++)
    {
      GObject *node = G_OBJECT (disco_pipeline_get_node (pipeline, names[i]));
      GParamSpec *pspec;

      if ((pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (node), "epochs")) != NULL
          && pspec->value_type == G_TYPE_UINT)
        {
          guint n;
          g_object_get (node, "epochs", &n, NULL);
          epochs = MAX (epochs, n);
        }
      if (disco_node_is_dynamical (DISCO_NODE (node))
          && (pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (node), "size")) != NULL
          && pspec->value_type == G_TYPE_UINT)
        {
          guint n;
          g_object_get (node, "size", &n, NULL);
          units += n;
        }
      if ((pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (node), "method")) != NULL
          && G_TYPE_IS_ENUM (pspec->value_type))
        {
          GValue value = G_VALUE_INIT;
          GEnumValue *method;

          g_value_init (&value, pspec->value_type);
          g_object_get_property (node, "method", &value);
          method =
              g_enum_get_value (g_type_class_peek (pspec->value_type), g_value_get_enum (&value));
          solver = method != NULL && strcmp (method->value_nick, "equilibrium") == 0 ? 1 : 10;
          g_value_unset (&value);
        }
      if (disco_node_is_dynamical (DISCO_NODE (node))
          && disco_node_get_input_node (DISCO_NODE (node), "prediction", NULL) != NULL)
        loop = 2; /* a controller: a closed loop to settle too */
    }
  return epochs * MAX (units, 1) * solver * loop;
}

static gint
by_cost (gconstpointer a, gconstpointer b, gpointer data)
{
  const DiscoSweepRun *x = a, *y = b;

  if (x->cost != y->cost)
    return x->cost > y->cost ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static char *
find_disco_run (void)
{
  g_autofree char *self_path = g_file_read_link ("/proc/self/exe", NULL);
  const char *env = g_getenv ("DISCO_RUN");

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if (self_path != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self_path);
      g_autofree char *beside = g_build_filename (dir, "disco-run", NULL);
      if (g_file_test (beside, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer (&beside);
    }
  return g_find_program_in_path ("disco-run");
}

/* Under mpirun or srun with more than one task. */
static gboolean
launched_by_mpi (void)
{
  const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", NULL };

  for (guint i = 0; vars[i] != NULL; i++)
    if (g_getenv (vars[i]) != NULL)
      return TRUE;
  return FALSE;
}

int
main (int argc, char **argv)
{
  g_autofree char *output_dir = NULL;
  g_autofree char *report_dir = NULL;
  g_autofree char *seeds = NULL;
  g_autofree char *only = NULL;
  gint jobs = 0;
  gboolean quiet = FALSE, list = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoSweepPlan) plan = NULL;
  Sweep sweep = { 0 };
  Sweep *self = &sweep;
  GOptionEntry entries[] = {
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs,
      "Runs at once (default: the number of cores; under MPI: 1 per rank)", "N" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_dir,
      "Folder for the runs and the report (overrides the sweep file's output-dir)", "DIR" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Show no progress", NULL },
    { "seeds", 's', 0, G_OPTION_ARG_STRING, &seeds,
      "Run these seeds instead of the file's (\"0-2\"); the folders are the whole sweep's",
      "LIST" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only,
      "Run only the pipelines whose name matches PATTERN (\"*-1x256-*\")", "PATTERN" },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &list,
      "Print every run (folder, status, relative cost estimate, command) and run nothing", NULL },
    { "report", 0, 0, G_OPTION_ARG_FILENAME, &report_dir,
      "Write the report of the sweep in DIR again (report.md, report.csv, runs.csv, "
      "curves.png) and run nothing",
      "DIR" },
    G_OPTION_ENTRY_NULL
  };
  int exit_status;

  setlocale (LC_ALL, "");
  context = g_option_context_new ("FILE.sweep [node.property=value ...] - run a sweep of "
                                  "Disco pipelines");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
      context, "Each run is a disco-run in <output-dir>/<pipeline>/[<grid point>/]seed-<n>/.\n"
               "Run the same command again to resume a stopped sweep. Under mpirun or srun,\n"
               "rank 0 hands out the runs and writes the report.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("disco-sweep: %s\n", error->message);
      return 2;
    }
  if (report_dir != NULL)
    {
      DiscoSweepReportCounts counts = { 0 };
      if (!disco_sweep_report_write (report_dir, &counts, &error))
        {
          g_printerr ("disco-sweep: %s\n", error->message);
          return 1;
        }
      if (!quiet)
        g_printerr ("disco-sweep: %s: %u runs: %u finished, %u failed, %u stopped, "
                    "%u pending\n",
                    report_dir, counts.total, counts.finished, counts.failed,
                    counts.stopped + counts.running, counts.pending);
      return 0;
    }
  if (argc < 2)
    {
      g_printerr ("disco-sweep: no sweep file given (usage: disco-sweep [-j N] [-o DIR] "
                  "FILE.sweep [node.property=value ...])\n");
      return 2;
    }
  if (jobs < 0)
    {
      g_printerr ("disco-sweep: -j %d: give a positive number of runs at once\n", jobs);
      return 2;
    }

  self->rank = 0;
  self->size = 1;
#ifdef DISCO_HAVE_MPI
  if (!list && launched_by_mpi ())
    {
      MPI_Init (&argc, &argv);
      MPI_Comm_rank (MPI_COMM_WORLD, &self->rank);
      MPI_Comm_size (MPI_COMM_WORLD, &self->size);
      sweep_rank = self->rank;
      self->mpi = self->size > 1;
    }
#else
  if (!list && launched_by_mpi () && !quiet)
    g_printerr ("disco-sweep: started by an MPI launcher, but built without MPI "
                "(-Dmpi=enabled): every task runs the whole sweep on its own\n");
#endif

  /* Every rank expands the same file to the same plan. */
  {
    DiscoSweepOptions options = { (const char *const *) argv + 2, output_dir, seeds, only };
    plan = disco_sweep_plan_load (argv[1], &options, &error);
  }
  exit_status = 0;
  if (plan == NULL)
    {
      if (self->rank == 0)
        g_printerr ("disco-sweep: %s\n", error->message);
      exit_status = 1;
      goto out;
    }
  self->plan = plan;
  self->disco_run = find_disco_run ();
  if (self->disco_run == NULL)
    {
      if (self->rank == 0)
        g_printerr ("disco-sweep: cannot find disco-run beside disco-sweep or on PATH\n");
      exit_status = 1;
      goto out;
    }
  self->quiet = quiet || self->rank != 0;
  self->tty = isatty (STDERR_FILENO);
  self->slots = jobs > 0 ? (guint) jobs : self->mpi ? 1 : g_get_num_processors ();
  self->children = g_ptr_array_new ();
  self->status = g_new0 (RunStatus, plan->runs->len);
  g_queue_init (&self->queue);

  /* The coordinator reads what earlier sweeps left, before anything runs. */
  if (self->rank == 0)
    {
      GList *order = NULL;

      for (guint i = 0; i < plan->runs->len; i++)
        {
          DiscoSweepRun *run = g_ptr_array_index (plan->runs, i);
          RunStatus status;

          if (!read_run_state (run, &status, &error))
            break;
          self->status[i] = status;
          if (list)
            {
              g_autofree char *command = g_strjoinv (" ", run->overrides);
              g_print ("%s\t%s\t%.3g\t%s %s\n", run->dir, status_names[status], estimate_cost (run),
                       run->pipeline_file, command);
              continue;
            }
          if (status == STATUS_FINISHED)
            self->n_finished++;
          else
            {
              if (status == STATUS_PENDING
                  && !write_run_state (run, STATUS_PENDING, NULL, 0, &error))
                break;
              order = g_list_prepend (order, run);
            }
        }
      if (error != NULL)
        {
          g_printerr ("disco-sweep: %s\n", error->message);
          exit_status = 1;
          g_list_free (order);
          goto share_verdict;
        }
      if (list)
        goto share_verdict;
      {
        g_autoptr (GHashTable) costs =
            g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
        for (GList *l = order; l != NULL; l = l->next)
          {
            DiscoSweepRun *run = l->data;
            g_autofree char *key = g_strdup_printf ("%s\n%s", run->pipeline_file, run->grid_point);
            double *cost = g_hash_table_lookup (costs, key);

            if (cost == NULL)
              {
                cost = g_new (double, 1);
                *cost = estimate_cost (run);
                g_hash_table_insert (costs, g_steal_pointer (&key), cost);
              }
            run->cost = *cost;
            self->cost_left += run->cost;
          }
      }
      order = g_list_sort_with_data (order, by_cost, NULL);
      for (GList *l = order; l != NULL; l = l->next)
        g_queue_push_tail (&self->queue, l->data);
      g_list_free (order);
      self->n_left = self->queue.length;
      if (g_mkdir_with_parents (plan->output_dir, 0755) != 0)
        {
          int saved = errno;
          g_printerr ("disco-sweep: %s: cannot create: %s\n", plan->output_dir, g_strerror (saved));
          exit_status = 1;
        }
    }

share_verdict:
#ifdef DISCO_HAVE_MPI
  /* A bad sweep file (or a folder of other runs) stops every rank. */
  if (self->mpi)
    MPI_Bcast (&exit_status, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
  if (exit_status != 0 || list)
    goto out;

  self->loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, self);
  g_unix_signal_add (SIGTERM, on_signal, self);
  if (self->rank == 0)
    {
      self->total_slots = self->slots;
      if (!self->quiet)
        g_printerr ("disco-sweep: %u runs (%u finished before) into %s, %u at once%s\n",
                    plan->runs->len, self->n_finished, plan->output_dir, self->slots,
                    self->mpi ? " on rank 0" : "");
      write_report (self);
    }
#ifdef DISCO_HAVE_MPI
  if (self->mpi)
    {
      /* Every worker's slot count, so that the ETA counts them. */
      int slots = (int) self->slots, total = 0;
      MPI_Reduce (&slots, &total, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
      if (self->rank == 0)
        {
          self->total_slots = total;
          self->workers_alive = self->size - 1;
        }
      else
        for (guint i = 0; i < self->slots; i++)
          send_message (0, MSG_REQUEST, -1, 0, 0);
      self->poll_source = g_timeout_add (20, poll_mpi, self);
    }
#endif
  if (self->rank == 0)
    fill_local_slots (self);
  if (!all_done (self))
    g_main_loop_run (self->loop);

#ifdef DISCO_HAVE_MPI
  if (self->mpi && self->rank != 0)
    send_message (0, MSG_BYE, -1, 0, 0);
#endif
  if (self->rank == 0)
    {
      /* Runs never started are still pending; the report counts them. */
      write_report (self);
      show_progress (self, TRUE);
      if (self->tty && !self->quiet)
        fputc ('\n', stderr);
      exit_status = self->stopping ? 130 : self->n_failed > 0 ? 1 : 0;
      if (!self->quiet)
        {
          g_autofree char *report = g_build_filename (plan->output_dir, "report.md", NULL);
          g_printerr ("disco-sweep: %s: %u finished, %u failed%s; report in %s\n", plan->output_dir,
                      self->n_finished, self->n_failed,
                      self->stopping ? ", stopped (run the same command to resume)" : "", report);
        }
    }
  else
    exit_status = self->stopping ? 130 : 0;

out:
#ifdef DISCO_HAVE_MPI
  if (self->mpi || (launched_by_mpi () && !list))
    {
      int flag = 0;
      MPI_Initialized (&flag);
      if (flag)
        MPI_Finalize ();
    }
#endif
  if (self->poll_source != 0)
    g_source_remove (self->poll_source);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->children, g_ptr_array_unref);
  g_free (self->status);
  g_free (self->disco_run);
  return exit_status;
}
