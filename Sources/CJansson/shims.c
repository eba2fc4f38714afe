/* SwiftPM needs one source file in a C target. */
#include "cjansson.h"
