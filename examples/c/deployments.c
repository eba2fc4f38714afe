/* A stack with two online instances, one finished and one running deployment, and
 * DescribeDeployments answered twice: as jansson JSON and through opaque handles.
 *
 *   cc -Iinclude deployments.c -lowd -ljansson   (or: make demo)
 */
#include <owd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs an operation on JSON text; exits with the AWS error on failure. */
static json_t *call(owd_store *store, const char *operation, const char *request) {
    char *text = NULL;
    if (owd_call_json(&text, store, operation, request) != OWD_OK) {
        fprintf(stderr, "%s failed: %s\n", operation, text ? text : owd_error_last()->message);
        owd_free(text);
        exit(1);
    }
    json_t *response = json_loads(text, 0, NULL);
    owd_free(text);
    return response;
}

/* Calls `operation` and returns one string member of its response (the caller frees it). */
static char *call_for(owd_store *store, const char *operation, const char *request, const char *member) {
    json_t *response = call(store, operation, request);
    char *value = strdup(json_string_value(json_object_get(response, member)));
    json_decref(response);
    return value;
}

int main(void) {
    owd_store *store = NULL;
    if (owd_store_open(&store, ":memory:", NULL) != OWD_OK) {
        fprintf(stderr, "open: %s\n", owd_error_last()->message);
        return 1;
    }
    char request[1024];

    char *stack = call_for(store, "CreateStack",
        "{\"Name\": \"shop\", \"Region\": \"us-east-1\","
        " \"ServiceRoleArn\": \"arn:aws:iam::123456789012:role/aws-opsworks-service-role\","
        " \"DefaultInstanceProfileArn\": \"arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role\"}",
        "StackId");
    snprintf(request, sizeof request, "{\"StackId\": \"%s\", \"Type\": \"custom\", \"Name\": \"web\", \"Shortname\": \"web\"}", stack);
    char *layer = call_for(store, "CreateLayer", request, "LayerId");
    snprintf(request, sizeof request, "{\"StackId\": \"%s\", \"Name\": \"shop\", \"Type\": \"other\"}", stack);
    char *app = call_for(store, "CreateApp", request, "AppId");
    for (int i = 0; i < 2; i++) {
        snprintf(request, sizeof request, "{\"StackId\": \"%s\", \"LayerIds\": [\"%s\"], \"InstanceType\": \"t3.small\"}", stack, layer);
        char *instance = call_for(store, "CreateInstance", request, "InstanceId");
        snprintf(request, sizeof request, "{\"InstanceId\": \"%s\"}", instance);
        json_decref(call(store, "StartInstance", request));
        free(instance);
    }

    /* A deployment whose commands both succeed... */
    snprintf(request, sizeof request,
             "{\"StackId\": \"%s\", \"AppId\": \"%s\", \"Command\": {\"Name\": \"deploy\", \"Args\": {\"migrate\": [\"true\"]}},"
             " \"Comment\": \"release 42\"}", stack, app);
    char *finished = call_for(store, "CreateDeployment", request, "DeploymentId");
    snprintf(request, sizeof request, "{\"DeploymentId\": \"%s\"}", finished);
    json_t *described = call(store, "DescribeCommands", request);
    json_t *commands = json_object_get(described, "Commands");  /* borrowed from described */
    size_t i;
    json_t *command;
    json_array_foreach(commands, i, command) {
        snprintf(request, sizeof request, "{\"CommandId\": \"%s\", \"Status\": \"successful\", \"ExitCode\": 0}",
                 json_string_value(json_object_get(command, "CommandId")));
        json_decref(call(store, "CompleteCommand", request));
    }
    json_decref(described);

    /* ...and one still running. */
    snprintf(request, sizeof request, "{\"StackId\": \"%s\", \"Command\": {\"Name\": \"configure\"}}", stack);
    free(call_for(store, "CreateDeployment", request, "DeploymentId"));

    /* DescribeDeployments as jansson JSON. */
    json_t *describe = json_pack("{s:s}", "StackId", stack);
    json_t *response = NULL;
    if (owd_call(&response, store, "DescribeDeployments", describe) != OWD_OK) {
        fprintf(stderr, "DescribeDeployments: %s\n", owd_error_last()->message);
        return 1;
    }
    char *text = json_dumps(response, JSON_INDENT(2));
    printf("DescribeDeployments (json_t):\n%s\n", text);
    free(text);
    json_decref(response);
    json_decref(describe);

    /* The same through opaque handles: no JSON at all. */
    owd_deployment_list *list = NULL;
    if (owd_describe_deployments(&list, store, stack, NULL, NULL, 0) != OWD_OK) {
        fprintf(stderr, "owd_describe_deployments: %s\n", owd_error_last()->message);
        return 1;
    }
    printf("\nDescribeDeployments (handles):\n");
    for (size_t n = 0; n < owd_deployment_list_count(list); n++) {
        const owd_deployment *d = owd_deployment_list_get(list, n);
        printf("  %s  %-9s %-10s created %s  instances %zu  duration %lld\n", owd_deployment_id(d),
               owd_command_type_name(owd_deployment_command_name(d)), owd_status_name(owd_deployment_status(d)),
               owd_deployment_created_at(d), owd_deployment_instance_count(d), (long long)owd_deployment_duration(d));
    }
    owd_deployment_list_free(list);

    free(stack);
    free(layer);
    free(app);
    free(finished);
    owd_store_close(store);
    return 0;
}
