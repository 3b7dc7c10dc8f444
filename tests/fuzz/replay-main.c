/* replay-main.c: runs a fuzz target over a corpus without libFuzzer.
 *
 *   fuzz-frame-replay DIR-OR-FILE...
 *
 * Linked with one target (fuzz-frame.c or fuzz-ka.c) in an ordinary build,
 * with gcc or clang, optionally under -Db_sanitize=address.  Every regular
 * file of every directory given (in name order, not recursing), and every
 * file given by name, goes through LLVMFuzzerTestOneInput() once.  Prints
 * TAP: "1..N", then "ok I - PATH" per input.  A target that finds a problem
 * aborts, so the plan is not met and the test fails; an input that cannot
 * be read is "not ok".  A missing directory or file bails out. */
#include "fuzz-target.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Adds the inputs named by @arg to @paths; FALSE if there are none to add. */
static gboolean
collect_inputs (const char *arg, GPtrArray *paths)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) here = NULL;
  GDir *dir;
  const char *name;

  if (g_file_test (arg, G_FILE_TEST_IS_REGULAR))
    {
      g_ptr_array_add (paths, g_strdup (arg));
      return TRUE;
    }
  dir = g_dir_open (arg, 0, &error);
  if (dir == NULL)
    {
      printf ("Bail out! %s\n", error->message);
      return FALSE;
    }
  here = g_ptr_array_new ();
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char *path = g_build_filename (arg, name, NULL);

      if (name[0] != '.' && g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (here, path);
      else
        g_free (path);
    }
  g_dir_close (dir);
  g_ptr_array_sort (here, compare_strings);
  for (guint i = 0; i < here->len; i++)
    g_ptr_array_add (paths, g_ptr_array_index (here, i));
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s DIR-OR-FILE...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    if (!collect_inputs (argv[i], paths))
      return 1;

  printf ("1..%u\n", paths->len);
  fflush (stdout);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autoptr (GError) error = NULL;
      char *data = NULL;
      guint8 *copy;
      gsize len = 0;

      if (!g_file_get_contents (path, &data, &len, &error))
        {
          printf ("not ok %u - %s # %s\n", i + 1, path, error->message);
          continue;
        }
      /* Announce the input first: if the target crashes, the log names it. */
      printf ("# %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
      fflush (stdout);
      /* An exact-size copy, as libFuzzer gives, so that AddressSanitizer
       * catches a read one byte past the end. */
      copy = len > 0 ? g_malloc (len) : NULL;
      if (len > 0)
        memcpy (copy, data, len);
      g_free (data);
      LLVMFuzzerTestOneInput (copy, len);
      g_free (copy);
      printf ("ok %u - %s\n", i + 1, path);
      fflush (stdout);
    }
  return 0;
}
