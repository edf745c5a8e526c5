/*
 * daemon.h - the tempo-compactor process: config, HTTP endpoints, loops.
 *
 * daemon_main() runs the whole process until SIGTERM/SIGINT and returns the
 * exit status. Readiness never waits on the blocklist poll: /ready turns 200
 * once the config is valid, the backend answered one cheap LIST and the HTTP
 * listener is up.
 */
#ifndef TC_DAEMON_H
#define TC_DAEMON_H

int daemon_main(int argc, char **argv);

#endif
