/* disco-recorder.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_RECORDER (disco_recorder_get_type ())
G_DECLARE_FINAL_TYPE (DiscoRecorder, disco_recorder, DISCO, RECORDER, DiscoNode)

G_END_DECLS
