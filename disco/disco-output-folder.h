/* disco-output-folder.h: a run's bookkeeping in its output folder (the
 * lock, the list of files it wrote, the checkpoint's manifest); engine
 * internals, not installed */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* <output-dir>/.disco/ holds "lock" while a run writes the folder and
 * "outputs", every file a run recorded writing there (one relative path a
 * line, appended before the file is written). */
#define DISCO_OUTPUT_FOLDER_META ".disco"

/* A checkpoint folder's manifest (disco-checkpoint.c). */
#define DISCO_CHECKPOINT_STATE "state.ini"

typedef struct _DiscoOutputLock DiscoOutputLock;

DiscoOutputLock *_disco_output_lock_acquire (const char *dir, GError **error);
void _disco_output_lock_release (DiscoOutputLock *lock);

gboolean _disco_output_folder_record (const char *dir, const char *relative, GError **error);
char **_disco_output_folder_list_outputs (const char *dir);
char *_disco_output_folder_describe_run (const char *dir);
gboolean _disco_output_folder_clear (const char *dir, GError **error);

/* disco-checkpoint.c */
gboolean _disco_checkpoint_write_state (const char *dir, GKeyFile *state, GError **error);
char *_disco_checkpoint_file_shape (GKeyFile *state, const char *file);

G_END_DECLS
