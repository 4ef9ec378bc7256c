/* fcgi_server.h — one worker process serving FastCGI with a fixed set of threads, each holding one request
 * (with its own DynamoDB connection), until SIGTERM, SIGINT or SIGHUP, which finish every request under way. */
#ifndef CLONE_JOBS_FCGI_SERVER_H
#define CLONE_JOBS_FCGI_SERVER_H

#include "worker.h"

/* Most threads a process may run: libfcgi and curl keep about two descriptors per thread, and the process
 * must stay well below FD_SETSIZE (1024), which parts of libfcgi still assume. */
#define FCGI_SERVER_MAX_THREADS 256

/* Serve the FastCGI listening socket listen_fd (shared with the pool's other processes) with `threads`
 * threads on p until a stop signal. FCGX_Init must have been called. Returns 0 after a clean stop,
 * 1 when no thread could start or a fatal error stopped the process. */
int fcgi_server_run(struct worker_process *p, int listen_fd, int threads);

#endif
