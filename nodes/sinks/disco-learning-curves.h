/* disco-learning-curves.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_LEARNING_CURVES (disco_learning_curves_get_type ())
G_DECLARE_FINAL_TYPE (DiscoLearningCurves, disco_learning_curves, DISCO, LEARNING_CURVES, DiscoNode)

G_END_DECLS
