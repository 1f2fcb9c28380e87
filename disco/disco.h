/* disco.h: the umbrella header of libdisco-1.0 */
#pragma once

#define DISCO_INSIDE

#include "disco-enums-base.h"
#include "disco-enum-types.h"
#include "disco-error.h"
#include "disco-tensor.h"
#include "disco-tick.h"
#include "disco-node.h"
#include "disco-pipeline.h"
#include "disco-registry.h"
#include "disco-image.h"
#include "disco-version.h"

#undef DISCO_INSIDE
