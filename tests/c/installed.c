/* Built against the installed header with `pkg-config --cflags --libs owd`: the header
 * is self-sufficient, the version it declares is the library's, and a round trip works. */
#include <owd.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    if (owd_version_number() != OWD_VERSION_NUMBER || strcmp(owd_version_string(), OWD_VERSION_STRING) != 0) {
        fprintf(stderr, "version mismatch: header %s, library %s\n", OWD_VERSION_STRING, owd_version_string());
        return 1;
    }
    owd_store_options options;
    owd_store *store = NULL;
    if (owd_store_options_init(&options, OWD_STORE_OPTIONS_VERSION) != OWD_OK ||
        owd_store_open(&store, NULL, &options) != OWD_OK) {
        fprintf(stderr, "open: %s\n", owd_error_last()->message);
        return 1;
    }
    char *text = NULL;
    int rc = owd_call_json(&text, store, "DescribeDeployments", "{\"StackId\": \"nope\"}");
    int ok = rc == OWD_ENOTFOUND && text && strstr(text, "\"__type\":\"ResourceNotFoundException\"");
    owd_free(text);
    owd_deployment_list *list = NULL;
    ok = ok && owd_describe_deployments(&list, store, NULL, NULL, NULL, 0) == OWD_OK &&
         owd_deployment_list_count(list) == 0;
    owd_deployment_list_free(list);
    owd_store_close(store);
    printf("installed libowd %s: %s\n", owd_version_string(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
