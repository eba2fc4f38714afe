#include "owd_model.h"

extern const unsigned char *const owdm_table[8];

const unsigned char *owdm_file(int which, size_t *len) {
    if (which < 0 || which > 3) { if (len) *len = 0; return NULL; }
    if (len) *len = (size_t)(owdm_table[2 * which + 1] - owdm_table[2 * which]);
    return owdm_table[2 * which];
}
