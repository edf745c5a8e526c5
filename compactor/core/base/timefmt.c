/* timefmt.c - RFC 3339 parse/format (see timefmt.h). */
#include "base/timefmt.h"

#include <stdio.h>
#include <time.h>

#include "base/tc.h"

/* Howard Hinnant's days_from_civil, valid for every int64 year we meet. */
int64_t
timefmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void
timefmt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    *y = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y += *m <= 2;
}

static int
timefmt_digits(const char *s, size_t n, size_t at, size_t cnt, int *out)
{
    int v = 0;
    size_t i;

    if (at + cnt > n)
        return -1;
    for (i = at; i < at + cnt; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int
timefmt_parse(const char *s, size_t n, int64_t *sec, int32_t *nsec)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se, oh = 0, om = 0, ns = 0, scale = 100000000;
    size_t i = 19;
    int64_t off = 0, days;

    if (timefmt_digits(s, n, 0, 4, &y) || n < 20 || s[4] != '-' ||
        timefmt_digits(s, n, 5, 2, &mo) || s[7] != '-' || timefmt_digits(s, n, 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || timefmt_digits(s, n, 11, 2, &h) || s[13] != ':' ||
        timefmt_digits(s, n, 14, 2, &mi) || s[16] != ':' || timefmt_digits(s, n, 17, 2, &se))
        return TC_PARSE;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
        return TC_PARSE;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return TC_PARSE;
    if (s[i] == '.' || s[i] == ',') {
        size_t start = ++i;

        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (scale > 0) {
                ns += (s[i] - '0') * scale;
                scale /= 10;
            }
            i++;
        }
        if (i == start)
            return TC_PARSE;
    }
    if (i >= n)
        return TC_PARSE;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        if (timefmt_digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            timefmt_digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
            return TC_PARSE;
        off = (int64_t)oh * 3600 + om * 60;
        if (s[i] == '-')
            off = -off;
        i += 6;
    } else {
        return TC_PARSE;
    }
    if (i != n)
        return TC_PARSE;
    days = timefmt_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *sec = days * 86400 + h * 3600 + mi * 60 + se - off;
    *nsec = ns;
    return TC_OK;
}

int
timefmt_format(int64_t sec, int32_t nsec, char *out, size_t outsz)
{
    int64_t days = sec / 86400, rem = sec % 86400, y;
    unsigned m, d;
    char frac[12] = "";
    int len;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    timefmt_civil_from_days(days, &y, &m, &d);
    if (nsec > 0 && nsec < 1000000000) {
        int k;

        snprintf(frac, sizeof(frac), ".%09d", (int)nsec);
        for (k = 9; k > 1 && frac[k] == '0'; k--)
            frac[k] = '\0';
    }
    len = snprintf(out, outsz, "%04lld-%02u-%02uT%02d:%02d:%02d%sZ", (long long)y, m, d,
                   (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
    return len;
}

void
timefmt_now(int64_t *sec, int32_t *nsec)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *nsec = (int32_t)ts.tv_nsec;
}
