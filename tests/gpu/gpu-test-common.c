/* gpu-test-common.c */
#include "gpu-test-common.h"
#include "disco-kernels-cuda.h"

gboolean cuda_usable;
char *skip_reason;

/* Call after g_test_init(): starts CUDA, or keeps the reason it could not
 * for every case to skip with. */
void
gpu_test_init (void)
{
  g_autoptr (GError) why = NULL;

  cuda_usable = disco_cuda_init (&why);
  skip_reason = cuda_usable ? NULL : g_strdup_printf ("no CUDA device: %s", why->message);
  if (cuda_usable)
    {
      g_autofree char *description = disco_cuda_describe ();
      g_test_message ("CUDA device: %s", description);
    }
}

/* Device memory holding @size bytes of @host (uninitialised when @host is
 * NULL); every call is checked, a failure fails the test. */
gpointer
gpu_test_upload (gconstpointer host, gsize size)
{
  g_autoptr (GError) error = NULL;
  gpointer dev = disco_cuda_alloc (MAX (size, 1), &error);

  g_assert_no_error (error);
  if (host != NULL)
    g_assert_true (disco_cuda_copy_to_device (dev, host, size, &error));
  g_assert_no_error (error);
  return dev;
}

/* Waits for the queued kernels, copies @size bytes back and fails the test
 * on any error they recorded. */
void
gpu_test_download (gpointer host, gconstpointer dev, gsize size)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (disco_cuda_synchronize (&error));
  g_assert_no_error (error);
  g_assert_true (disco_cuda_copy_to_host (host, dev, size, &error));
  g_assert_no_error (error);
  g_assert_true (disco_cuda_check (&error));
  g_assert_no_error (error);
}

float *
random_floats (GRand *rand, gsize n, double lo, double hi)
{
  float *x = g_new (float, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rand, lo, hi);
  return x;
}
