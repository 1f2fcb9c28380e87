/* disco-parallel.c: the CPU operations table's threads (disco-parallel.h).
 *
 * A job is a function and a number of pieces.  The thread that runs it
 * (the caller) publishes it, takes pieces itself, and returns once every
 * piece has run; workers take pieces under one mutex (a job has at most a
 * few dozen pieces, so the lock is never contended for long).  Between
 * jobs a worker spins for a while (an operation of the network is
 * followed by the next within microseconds; a condition variable's wake-up
 * costs more than many of them), then sleeps until the next job.
 *
 * A job asked for while another runs (a second pipeline in another
 * thread), or from inside a piece, runs its pieces in the caller, one after
 * another: the same pieces, so the same bits.  A fork()ed child (Python's
 * multiprocessing, say) starts a team of its own when it first needs one.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-parallel.h"

#include <string.h>

#ifdef G_OS_UNIX
#include <pthread.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause ()
#else
#define CPU_RELAX() ((void) 0)
#endif

/* How long an idle worker spins before it sleeps (µs).  A training tick's
 * serial stretches (loading the minibatch, the finiteness checks, the
 * orchestration between nodes) last a few hundred µs; at 200 µs the worker
 * often slept through them and the next job waited for its wake-up (a 1×256
 * equilibrium epoch on two threads: medians of 9 alternating runs 1.58 →
 * 1.50 s and 1.89 → 1.74 s at 1000). */
#define SPIN_US 1000

typedef struct
{
  GMutex lock;
  GCond wake;
  /* Guarded by @lock: */
  guint n_workers;  /* started so far; they never end */
  guint n_sleeping; /* waiting on @wake */
  DiscoParallelFunc func;
  gpointer data;
  gsize n_pieces;
  gsize next_piece;
  /* Atomic: */
  guint generation; /* bumped for every job (read by spinning workers) */
  gsize remaining;  /* pieces not finished */
  guint threads;    /* the count in effect, 0 until chosen */
  /* Held by the caller of the job that runs. */
  GMutex busy;
} Team;

static Team team;
/* Non-NULL in a worker and in a caller while its job runs: a nested job
 * runs in line.  A GPrivate rather than __thread: this file lives in a
 * dlopen()ed plugin, whose dynamic TLS LeakSanitizer's thread scan trips
 * over (it crashed at exit with threads running). */
static GPrivate inside_job;

static guint
default_threads (void)
{
  const char *wanted = g_getenv ("DISCO_THREADS");
  guint64 n = 0;

  if (wanted != NULL
      && g_ascii_string_to_unsigned (wanted, 10, 1, DISCO_PARALLEL_MAX_THREADS, &n, NULL))
    return (guint) n;
  if (wanted != NULL)
    g_warning ("DISCO_THREADS=\"%s\" is not a number from 1 to %u; using one thread per core",
               wanted, DISCO_PARALLEL_MAX_THREADS);
  return CLAMP (g_get_num_processors (), 1, DISCO_PARALLEL_MAX_THREADS);
}

/**
 * disco_parallel_get_threads:
 *
 * The threads an operation of the CPU table may use, the caller's
 * included: the count disco_parallel_set_threads() set, else
 * `$DISCO_THREADS`, else one per processor this process may run on.
 *
 * Returns: the thread count, ≥ 1
 */
guint
disco_parallel_get_threads (void)
{
  guint n = __atomic_load_n (&team.threads, __ATOMIC_ACQUIRE);

  if (n == 0)
    {
      guint expected = 0;

      n = default_threads ();
      if (!__atomic_compare_exchange_n (&team.threads, &expected, n, FALSE, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
        n = expected;
    }
  return n;
}

/**
 * disco_parallel_set_threads:
 * @n_threads: threads per operation, the caller's included, 1 …
 *   #DISCO_PARALLEL_MAX_THREADS (1: everything runs in the caller)
 *
 * Sets the thread count for the whole process, for the jobs that start
 * from now on.  Results do not depend on it.
 */
void
disco_parallel_set_threads (guint n_threads)
{
  g_return_if_fail (n_threads >= 1 && n_threads <= DISCO_PARALLEL_MAX_THREADS);

  __atomic_store_n (&team.threads, n_threads, __ATOMIC_RELEASE);
}

/* Takes pieces of the current job until there are none. */
static void
take_pieces (void)
{
  g_mutex_lock (&team.lock);
  while (team.next_piece < team.n_pieces)
    {
      const gsize piece = team.next_piece++;
      DiscoParallelFunc func = team.func;
      gpointer data = team.data;

      g_mutex_unlock (&team.lock);
      func (piece, data);
      __atomic_fetch_sub (&team.remaining, 1, __ATOMIC_RELEASE);
      g_mutex_lock (&team.lock);
    }
  g_mutex_unlock (&team.lock);
}

static gpointer
worker_main (gpointer data)
{
  const guint index = GPOINTER_TO_UINT (data); /* 1, 2, … */
  /* No generation seen yet: a worker started for a job that is already
   * published joins it (taking pieces when there is no job takes none). */
  guint seen = __atomic_load_n (&team.generation, __ATOMIC_ACQUIRE) - 1;

  g_private_set (&inside_job, GINT_TO_POINTER (TRUE));
  for (;;)
    {
      /* A worker beyond the count in effect (lowered since it started)
       * sleeps at once and leaves the jobs to the others. */
      const gboolean wanted = index < disco_parallel_get_threads ();
      gint64 spin_until = g_get_monotonic_time () + (wanted ? SPIN_US : 0);
      guint spins = 0;

      while (__atomic_load_n (&team.generation, __ATOMIC_ACQUIRE) == seen)
        {
          CPU_RELAX ();
          if ((!wanted || ++spins % 256 == 0) && g_get_monotonic_time () > spin_until)
            {
              g_mutex_lock (&team.lock);
              team.n_sleeping++;
              while (__atomic_load_n (&team.generation, __ATOMIC_ACQUIRE) == seen)
                g_cond_wait (&team.wake, &team.lock);
              team.n_sleeping--;
              g_mutex_unlock (&team.lock);
            }
        }
      seen = __atomic_load_n (&team.generation, __ATOMIC_ACQUIRE);
      if (index < disco_parallel_get_threads ())
        take_pieces ();
    }
  return NULL;
}

#ifdef G_OS_UNIX
/* A child of fork() has only the thread that forked: the team starts
 * afresh there (new workers when a job first needs them), with its locks
 * unlocked whatever a worker held at the fork (a zeroed GMutex/GCond is an
 * unused one).  The thread count carries over. */
static void
team_after_fork_in_child (void)
{
  const guint threads = __atomic_load_n (&team.threads, __ATOMIC_RELAXED);

  memset (&team, 0, sizeof team);
  team.threads = threads;
}

static void
team_register_fork_handler (void)
{
  static gsize registered = 0;

  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, team_after_fork_in_child);
      g_once_init_leave (&registered, 1);
    }
}
#endif

/* Starts workers until @n_threads − 1 exist, with team.lock held (the
 * job's publication takes it anyway); FALSE when none could start. */
static gboolean
start_workers_locked (guint n_threads)
{
  while (team.n_workers + 1 < n_threads)
    {
      g_autoptr (GError) error = NULL;
      GThread *thread;

#ifdef G_OS_UNIX
      team_register_fork_handler ();
#endif
      thread = g_thread_try_new ("disco-worker", worker_main, GUINT_TO_POINTER (team.n_workers + 1),
                                 &error);
      if (thread == NULL)
        {
          g_warning ("cannot start a worker thread (%s); going on with %u", error->message,
                     team.n_workers + 1);
          break;
        }
      g_thread_unref (thread); /* it runs as long as the process */
      team.n_workers++;
    }
  return team.n_workers > 0;
}

/* Runs every piece in this thread, itself marked as inside a job as on the
 * team, so that what a piece does never depends on where it runs
 * (disco_parallel_in_job()). */
static void
run_in_caller (gsize n_pieces, DiscoParallelFunc func, gpointer data)
{
  const gboolean mark = n_pieces > 1 && g_private_get (&inside_job) == NULL;

  if (mark)
    g_private_set (&inside_job, GINT_TO_POINTER (TRUE));
  for (gsize piece = 0; piece < n_pieces; piece++)
    func (piece, data);
  if (mark)
    g_private_set (&inside_job, NULL);
}

/**
 * disco_parallel_in_job:
 *
 * Whether this thread is running a piece of a job of more than one piece,
 * on the team or in line (one thread, or a job started while another
 * runs): the same answer with any thread count.  A job started here runs
 * its pieces in line, one after the other, so an operation that would cut
 * itself into pieces only to share them may do its work in one go instead
 * (the GEMM: one BLAS call rather than one per block).
 *
 * Returns: %TRUE inside a piece of a job of several pieces
 */
gboolean
disco_parallel_in_job (void)
{
  return g_private_get (&inside_job) != NULL;
}

/**
 * disco_parallel_run:
 * @n_pieces: pieces of the job
 * @func: (scope call): runs one piece
 * @data: (closure func): passed to @func
 *
 * Calls @func for every piece from 0 to @n_pieces − 1, on up to
 * disco_parallel_get_threads() threads (this one among them), and returns
 * when every call has returned.  Pieces run in no particular order and at
 * the same time: each must write only its own outputs.
 */
void
disco_parallel_run (gsize n_pieces, DiscoParallelFunc func, gpointer data)
{
  const guint n_threads = n_pieces > 1 ? disco_parallel_get_threads () : 1;

  g_return_if_fail (func != NULL);

  if (n_threads <= 1 || g_private_get (&inside_job) != NULL || !g_mutex_trylock (&team.busy))
    {
      run_in_caller (n_pieces, func, data);
      return;
    }

  g_mutex_lock (&team.lock);
  if (!start_workers_locked (n_threads))
    {
      g_mutex_unlock (&team.lock);
      g_mutex_unlock (&team.busy);
      run_in_caller (n_pieces, func, data);
      return;
    }
  g_private_set (&inside_job, GINT_TO_POINTER (TRUE));
  team.func = func;
  team.data = data;
  team.n_pieces = n_pieces;
  team.next_piece = 0;
  __atomic_store_n (&team.remaining, n_pieces, __ATOMIC_RELAXED);
  __atomic_fetch_add (&team.generation, 1, __ATOMIC_RELEASE);
  if (team.n_sleeping > 0)
    g_cond_broadcast (&team.wake);
  g_mutex_unlock (&team.lock);

  take_pieces ();
  while (__atomic_load_n (&team.remaining, __ATOMIC_ACQUIRE) > 0)
    CPU_RELAX ();
  g_private_set (&inside_job, NULL);
  g_mutex_unlock (&team.busy);
}

/**
 * disco_parallel_pieces:
 * @n_items: rows (or values) of an operation
 * @min_items: the fewest a piece should have to be worth a thread
 * @max_pieces: the most pieces wanted
 *
 * How many pieces to cut an operation into: as many as its items allow at
 * @min_items each, at most @max_pieces, and a power of two (so that two,
 * four or eight threads share them evenly).  It depends on the shape alone,
 * never on the thread count, so that results do not either.
 *
 * Returns: the pieces, ≥ 1
 */
guint
disco_parallel_pieces (gsize n_items, gsize min_items, guint max_pieces)
{
  guint pieces = 1;

  while (pieces * 2 <= max_pieces && n_items / (pieces * 2) >= MAX (min_items, 1))
    pieces *= 2;
  return pieces;
}
