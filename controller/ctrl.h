/*
 * ctrl.h - the controller process: flags, informers, workers, election.
 *
 * ctrl_main() runs until SIGTERM/SIGINT (releasing the Lease on the way out)
 * and returns the process exit code.
 */
#ifndef CTRL_CTRL_H
#define CTRL_CTRL_H

int ctrl_main(int argc, char **argv);

#endif
