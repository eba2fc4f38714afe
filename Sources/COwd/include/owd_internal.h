#ifndef OWD_INTERNAL_H
#define OWD_INTERNAL_H
/* Internal helpers of the ABI layer. Not exported (the version script keeps owd_* only). */
#include "owd.h"

/* Records the calling thread's last error; copies type and message. */
void owdi_error_set(int code, const char *type, const char *message, size_t message_length);
/* Resets the calling thread's last error to OWD_OK. Cheap when already clear. */
void owdi_error_clear(void);
const owd_error *owdi_error_get(void);
/* OWD_VERSION_STRING as a static C string (Swift imports the macro as a String). */
const char *owdi_version_string(void);

#endif
