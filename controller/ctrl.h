/*
 * ctrl.h - the controller process: flags, informers, workers, election.
 *
 * ctrl_main() runs until SIGTERM/SIGINT (releasing the Lease on the way out)
 * and returns the process exit code: 2 for a bad command line (err says
 * why; main prints it with ctrl_usage_text), 1 for a failure, 0 otherwise.
 * It never writes to stdout/stderr itself except through the logger.
 */
#ifndef CTRL_CTRL_H
#define CTRL_CTRL_H

#include "base/tc.h"

extern const char ctrl_usage_text[];

int ctrl_main(int argc, char **argv, struct tc_err *err);

#endif
