/* clock.h — milliseconds of the monotonic clock, for durations and deadlines.
 * One definition for the whole program, so every timeout and log latency counts the same way. */
#ifndef CLONE_JOBS_CLOCK_H
#define CLONE_JOBS_CLOCK_H

/* Milliseconds since an arbitrary point; never goes backwards. 0 if the clock cannot be read. */
long clock_monotonic_ms(void);
/* Microseconds of the same clock, for latency histograms (a vDSO read, no system call). 0 if unreadable. */
long long clock_monotonic_us(void);

#endif
