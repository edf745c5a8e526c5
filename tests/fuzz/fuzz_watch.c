/* fuzz_watch.c - libFuzzer target: a Kubernetes watch response body (newline
 * framed JSON events) fed to the informer in chunks whose sizes come from
 * the first bytes, as the network may split it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kube_config *cfg;

static void
on_event(enum watch_event ev, const json_t *obj, void *ud)
{
    (void)ev;
    if (!json_is_object(obj))
        abort(); /* the informer hands on objects only */
    ++*(unsigned long *)ud;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/fuzz-watch-kubeconfig.XXXXXX";
    struct tc_err err;
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    (void)argc;
    (void)argv;
    if (f == NULL)
        abort();
    fputs("apiVersion: v1\nkind: Config\ncurrent-context: f\n"
          "clusters: [{name: f, cluster: {server: 'https://127.0.0.1:1'}}]\n"
          "users: [{name: f, user: {token: t}}]\n"
          "contexts: [{name: f, context: {cluster: f, user: f, namespace: n}}]\n",
          f);
    fclose(f);
    if (kube_config_load(path, NULL, &cfg, &err) != TC_OK)
        abort();
    remove(path);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct informer inf;
    struct informer_opts o = {0};
    struct tc_err err;
    unsigned long events = 0;
    size_t off = 0, chunk;

    o.name = "fuzz";
    o.path = "/apis/compactor.tempo.dev/v1alpha1/tempocompactors";
    o.fn = on_event;
    o.ud = &events;
    if (size < 1 || informer_init(&inf, cfg, &o, &err) != TC_OK)
        return 0;
    chunk = (size_t)data[0] + 1;
    data++;
    size--;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;

        if (informer_feed(&inf, (const char *)data + off, n) != 0)
            break;
        off += n;
    }
    if (events > inf.stats.events)
        abort(); /* every event handed on is counted */
    informer_cleanup(&inf);
    return 0;
}
