/* main.c - tempo-compactor-controller: `render -f cr.yaml`, `run` and tools. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "ctrl.h"
#include "kube.h"
#include "base/log.h"
#include "base/mem.h"
#include "render.h"
#include "base/tc.h"
#include "yamljson.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: tempo-compactor-controller render -f CR.yaml [-o yaml|json]\n"
            "       tempo-compactor-controller run [options]   (run --help for options)\n"
            "       tempo-compactor-controller get [--kubeconfig F] [--sleep-ms N] PATH...\n"
            "       tempo-compactor-controller config-fields   spec fields -> daemon keys, JSON\n"
            "       tempo-compactor-controller version\n");
}

static int
cmd_render(int argc, char **argv)
{
    const char *file = NULL, *fmt = "yaml";
    struct tc_err err = {0};
    struct buf in, out;
    json_t *docs = NULL, *all = NULL;
    size_t i, ncr = 0;
    int rc, a;

    for (a = 0; a < argc; a++) {
        if ((strcmp(argv[a], "-f") == 0 || strcmp(argv[a], "--file") == 0) && a + 1 < argc)
            file = argv[++a];
        else if ((strcmp(argv[a], "-o") == 0 || strcmp(argv[a], "--output") == 0) && a + 1 < argc)
            fmt = argv[++a];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (file == NULL || (strcmp(fmt, "yaml") != 0 && strcmp(fmt, "json") != 0)) {
        usage(stderr);
        return 2;
    }
    buf_init(&in, (size_t)16 << 20);
    buf_init(&out, (size_t)64 << 20);
    rc = buf_read_file(&in, file, &err);
    if (rc == TC_OK)
        rc = yamljson_parse(in.data ? in.data : "", in.len, file, &docs, &err);
    all = json_array();
    for (i = 0; rc == TC_OK && i < json_array_size(docs); i++) {
        struct render_result res;
        json_t *d = json_array_get(docs, i);

        if (!json_is_object(d) || !json_is_string(json_object_get(d, "kind")) ||
            strcmp(json_string_value(json_object_get(d, "kind")), RENDER_KIND) != 0)
            continue; /* other documents (Secrets, ...) are not ours */
        ncr++;
        rc = render_manifests(d, &res, &err);
        if (rc != TC_OK) {
            tc_err_prefix(&err, "%s: document %zu", file, i + 1);
            break;
        }
        json_array_extend(all, res.manifests);
        render_result_cleanup(&res);
    }
    if (rc == TC_OK && ncr == 0)
        rc = tc_err_set(&err, TC_INVAL, "%s: no %s document found", file, RENDER_KIND);
    if (rc == TC_OK) {
        if (strcmp(fmt, "json") == 0) {
            char *s = json_dumps(all, JSON_SORT_KEYS | JSON_INDENT(2));
            if (s == NULL)
                rc = tc_err_set(&err, TC_NOMEM, "out of memory");
            else
                buf_printf(&out, "%s\n", s);
            free(s); /* lint-ok: allocated by jansson */
        } else {
            rc = yamljson_emit_stream(all, &out, &err);
        }
    }
    if (rc == TC_OK)
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    else
        fprintf(stderr, "error: %s\n", err.msg);
    json_decref(docs);
    json_decref(all);
    buf_cleanup(&in);
    buf_cleanup(&out);
    return rc == TC_OK ? 0 : 1;
}

/* get: GET one or more API paths with the controller's client (for
 * debugging credentials; the auth tests use it). */
static int
cmd_get(int argc, char **argv)
{
    const char *kubeconfig = NULL, *context = NULL;
    struct kube_config *cfg = NULL;
    struct kube *k = NULL;
    struct tc_err err = {0};
    long sleep_ms = 0;
    int a, rc = 0, npaths = 0;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (a = 0; a < argc; a++) {
        if (strcmp(argv[a], "--kubeconfig") == 0 && a + 1 < argc)
            kubeconfig = argv[++a];
        else if (strcmp(argv[a], "--context") == 0 && a + 1 < argc)
            context = argv[++a];
        else if (strcmp(argv[a], "--sleep-ms") == 0 && a + 1 < argc)
            sleep_ms = strtol(argv[++a], NULL, 10);
    }
    if (kube_config_load(kubeconfig, context, &cfg, &err) != TC_OK ||
        (k = kube_new(cfg, &err)) == NULL) {
        fprintf(stderr, "error: %s\n", err.msg);
        kube_config_free(cfg);
        return 1;
    }
    for (a = 0; a < argc && rc == 0; a++) {
        struct kube_resp r;
        if (strcmp(argv[a], "--kubeconfig") == 0 || strcmp(argv[a], "--context") == 0 ||
            strcmp(argv[a], "--sleep-ms") == 0) {
            a++;
            continue;
        }
        if (npaths++ > 0 && sleep_ms > 0)
            usleep((useconds_t)sleep_ms * 1000);
        kube_resp_init(&r);
        if (kube_do(k, "GET", argv[a], NULL, NULL, 0, &r, &err) != TC_OK) {
            fprintf(stderr, "error: %s\n", err.msg);
            rc = 1;
        } else {
            printf("HTTP %ld %s\n%s\n", r.status, argv[a], r.body.data ? r.body.data : "");
            if (r.status < 200 || r.status > 299)
                rc = 1;
        }
        kube_resp_cleanup(&r);
    }
    kube_free(k);
    kube_config_free(cfg);
    curl_global_cleanup();
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "render") == 0)
        return cmd_render(argc - 2, argv + 2);
    if (strcmp(argv[1], "run") == 0) {
        struct tc_err err = {0};
        int a, rc;
        for (a = 2; a < argc; a++)
            if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
                fputs(ctrl_usage_text, stdout);
                return 0;
            }
        rc = ctrl_main(argc - 2, argv + 2, &err);
        if (rc == 2)
            fprintf(stderr, "run: %s\n%s", err.msg, ctrl_usage_text);
        return rc;
    }
    if (strcmp(argv[1], "get") == 0)
        return cmd_get(argc - 2, argv + 2);
    if (strcmp(argv[1], "config-fields") == 0) {
        struct buf b;
        int rc;
        buf_init(&b, 0);
        rc = render_fields_json(&b);
        if (rc == TC_OK)
            fputs(b.data, stdout);
        buf_cleanup(&b);
        return rc == TC_OK ? 0 : 1;
    }
    if (strcmp(argv[1], "version") == 0) {
        printf("tempo-compactor-controller %s (%s)\n", tc_version, tc_revision);
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
