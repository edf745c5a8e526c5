/*
 * timefmt.h - RFC 3339 timestamps as Go's time package reads and writes them.
 *
 * Times are kept as (seconds since the Unix epoch, nanoseconds) in UTC, which
 * covers Go's zero time 0001-01-01T00:00:00Z (seconds -62135596800) that
 * Tempo writes for unset times.
 */
#ifndef TC_TIMEFMT_H
#define TC_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_GO_ZERO_SEC (-62135596800LL)
#define TIMEFMT_MAX_LEN 40

/* timefmt_parse() reads n bytes of RFC 3339 text: any offset (Z or +hh:mm),
 * 0-9 fractional digits. Returns TC_OK or TC_PARSE. */
int timefmt_parse(const char *s, size_t n, int64_t *sec, int32_t *nsec);

/* timefmt_format() writes Go's RFC3339Nano form in UTC (trailing zeros of
 * the fraction trimmed, no fraction when zero) into out. Returns the length. */
int timefmt_format(int64_t sec, int32_t nsec, char *out, size_t outsz);

/* timefmt_days_from_civil() converts a proleptic Gregorian date to days
 * since 1970-01-01. */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);

/* timefmt_now() is the wall clock as (sec, nsec). */
void timefmt_now(int64_t *sec, int32_t *nsec);

#endif
