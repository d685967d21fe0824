/* shipper_int.h - shared by the shipper's own files only (shipper*.c). */
#ifndef BROCK_MONITOR_SHIPPER_INT_H
#define BROCK_MONITOR_SHIPPER_INT_H

#include "shipper.h"

/* One spooled event prepared for the wire. */
struct shipper_event {
    int64_t id, ts;
    const char *msg; /* UTF-8, as sent (points into the batch, or `owned`) */
    size_t len;
    char *owned; /* a cleaned or truncated copy, or NULL */
    size_t seq;  /* position in the spool read: the stable-sort tiebreak */
    bool truncated;
};

/* PutMetricData for the metric members of events[0..n) (shipper_metrics.c).
 * *requests gets the calls that succeeded. */
enum brock_status shipper_put_metrics(struct aws_client *c, const struct monitor_config *cfg,
                                      const struct shipper_event *ev, size_t n, int64_t now_ms, int64_t *requests,
                                      struct brock_err *e) BROCK_WUR;

#endif
