/* The OpsWorks model files (model/opsworks/2013-02-18/) and owd's own operations, embedded
 * in the owd program by .incbin (no files to find at run time). */
#ifndef OWD_MODEL_H
#define OWD_MODEL_H
#include <stddef.h>

enum { OWDM_SERVICE = 0, OWDM_WAITERS = 1, OWDM_PAGINATORS = 2, OWDM_EXTRAS = 3 };

/* The bytes of one file (not NUL-terminated; *len set). NULL for an unknown file. */
const unsigned char *owdm_file(int which, size_t *len);

#endif
