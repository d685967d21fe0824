/* fuzz_emulator_aws.c - the request parsers of the emulator's CloudWatch Logs,
 * CloudWatch, Bedrock control plane and IAM (src/server/emulator_aws.h).
 *
 * Input: up to 12 records, each [selector byte][length: 2 bytes, big-endian]
 * [that many bytes]. The selector picks an operation (and how the bytes are
 * used: a whole JSON or query body, a REST path tail or query string, or a
 * value wrapped into an otherwise valid request: an EMF log message, a
 * dashboard body, a metric-math expression). Records run in order against one
 * state, which starts with a log group, a stream and a role, so later records
 * see what earlier ones made. Every answer must be well-formed: an error has
 * a code and a message, a success a body of the declared kind. */
#define EMULATOR_INTERNAL
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/server/emulator.h"
#include "../src/server/emulator_aws.h"
#include "../src/util/buf.h"
#include "../src/util/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum use { BODY, PATH_TAIL, QUERY_STRING, EMF_MESSAGE, DASH_BODY, EXPRESSION, EVENTS };

static const struct sel {
    enum emu_aws_service svc;
    enum emu_aws_wire wire;
    const char *op;
    const char *method, *path;
    enum use use;
} sels[] = {
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "CreateLogGroup", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "DeleteLogGroup", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "DescribeLogGroups", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "CreateLogStream", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "DeleteLogStream", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "DescribeLogStreams", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "PutRetentionPolicy", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "DeleteRetentionPolicy", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "PutLogEvents", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "GetLogEvents", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "FilterLogEvents", NULL, NULL, BODY},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "PutLogEvents", NULL, NULL, EMF_MESSAGE},
    {EMU_AWS_LOGS, EMU_WIRE_JSON11, "PutLogEvents", NULL, NULL, EVENTS},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "PutMetricData", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_QUERY, "PutMetricData", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "GetMetricStatistics", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_QUERY, "GetMetricStatistics", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "GetMetricData", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "GetMetricData", NULL, NULL, EXPRESSION},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "PutMetricAlarm", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_QUERY, "PutMetricAlarm", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "DescribeAlarms", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_QUERY, "DescribeAlarms", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "DeleteAlarms", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "PutDashboard", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "PutDashboard", NULL, NULL, DASH_BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_QUERY, "PutDashboard", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "GetDashboard", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "ListDashboards", NULL, NULL, BODY},
    {EMU_AWS_CLOUDWATCH, EMU_WIRE_JSON10, "DeleteDashboards", NULL, NULL, BODY},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "PUT", "/logging/modelinvocations", BODY},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "GET", "/logging/modelinvocations", BODY},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "DELETE", "/logging/modelinvocations", BODY},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "GET", "/inference-profiles", QUERY_STRING},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "POST", "/inference-profiles", BODY},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "GET", "/inference-profiles/", PATH_TAIL},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "DELETE", "/inference-profiles/", PATH_TAIL},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "GET", "/foundation-models", QUERY_STRING},
    {EMU_AWS_CONTROL, EMU_WIRE_REST, NULL, "GET", "/foundation-models/", PATH_TAIL},
    {EMU_AWS_IAM, EMU_WIRE_QUERY, "CreateRole", NULL, NULL, BODY},
    {EMU_AWS_IAM, EMU_WIRE_QUERY, "PutRolePolicy", NULL, NULL, BODY},
    {EMU_AWS_IAM, EMU_WIRE_QUERY, "GetRole", NULL, NULL, BODY},
    {EMU_AWS_IAM, EMU_WIRE_QUERY, "GetRolePolicy", NULL, NULL, BODY},
    {EMU_AWS_IAM, EMU_WIRE_QUERY, "DeleteRole", NULL, NULL, BODY},
    {EMU_AWS_IAM, EMU_WIRE_QUERY, "ListRolePolicies", NULL, NULL, BODY},
};

#define NOW_MS 1767225600000LL

static void check(const struct emu_aws_resp *rs)
{
    if (rs->code) {
        if (!rs->code[0] || !rs->msg[0] || rs->status < 400 || rs->status > 599)
            abort();
    } else if (rs->status < 200 || rs->status > 299 || !rs->ctype || buf_status(&rs->body) != BROCK_OK) {
        abort();
    }
}

static void run(struct emu_aws *a, const struct sel *s, const char *method, const char *path, const char *query,
                const char *body, size_t len)
{
    struct emu_aws_req rq = {.svc = s->svc,
                             .wire = s->wire,
                             .op = s->op,
                             .method = method ? method : "POST",
                             .path = path ? path : "/",
                             .query = query ? query : "",
                             .body = body,
                             .len = len,
                             .region = "us-east-1",
                             .account = EMULATOR_ACCOUNT,
                             .now_ms = NOW_MS,
                             .request_id = "00000000-0000-4000-8000-000000000000"};
    struct emu_aws_resp rs;
    emu_aws_resp_init(&rs);
    emu_aws_handle(a, &rq, &rs);
    check(&rs);
    emu_aws_resp_cleanup(&rs);
}

static void json_quote_into(struct buf *b, const uint8_t *p, size_t n)
{
    buf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\')
            buf_addf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            buf_addf(b, "\\u%04x", c); /* bytes as code points: always valid JSON */
        else
            buf_addc(b, (char)c);
    }
    buf_addc(b, '"');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct emu_aws *a = emu_aws_new();
    static const struct sel setup[] = {
        {EMU_AWS_LOGS, EMU_WIRE_JSON11, "CreateLogGroup", NULL, NULL, BODY},
        {EMU_AWS_LOGS, EMU_WIRE_JSON11, "CreateLogStream", NULL, NULL, BODY},
        {EMU_AWS_IAM, EMU_WIRE_QUERY, "CreateRole", NULL, NULL, BODY},
    };
    static const char *const setup_body[] = {
        "{\"logGroupName\":\"g\"}",
        "{\"logGroupName\":\"g\",\"logStreamName\":\"s\"}",
        "RoleName=r&AssumeRolePolicyDocument=%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22"
        "%3A%7B%22Service%22%3A%22bedrock.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D",
    };
    for (size_t i = 0; i < 3; i++)
        run(a, &setup[i], NULL, NULL, NULL, setup_body[i], strlen(setup_body[i]));

    size_t pos = 0;
    for (int r = 0; r < 12 && pos + 3 <= size; r++) {
        const struct sel *s = &sels[data[pos] % (sizeof sels / sizeof sels[0])];
        size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *p = data + pos;
        pos += len;
        struct buf b = BUF_INIT((size_t)1 << 20);
        switch (s->use) {
        case BODY:
            run(a, s, s->method, s->path, NULL, (const char *)p, len);
            break;
        case QUERY_STRING:
            buf_add(&b, p, len);
            if (!memchr(buf_cstr(&b), '\0', b.len))
                run(a, s, s->method, s->path, buf_cstr(&b), NULL, 0);
            break;
        case PATH_TAIL:
            buf_addstr(&b, s->path);
            buf_add(&b, p, len);
            if (!memchr(buf_cstr(&b), '\0', b.len))
                run(a, s, s->method, buf_cstr(&b), NULL, NULL, 0);
            break;
        case EMF_MESSAGE:
            buf_addf(&b, "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":%lld,"
                         "\"message\":",
                     NOW_MS);
            json_quote_into(&b, p, len);
            buf_addstr(&b, "}]}");
            run(a, s, NULL, NULL, NULL, buf_cstr(&b), b.len);
            break;
        case EVENTS:
            /* the bytes as (timestamp offset, message length) pairs */
            buf_addstr(&b, "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[");
            for (size_t i = 0; i + 2 <= len; i += 2) {
                long long ts = NOW_MS + ((long long)(int8_t)p[i]) * 3600000LL;
                buf_addf(&b, "%s{\"timestamp\":%lld,\"message\":\"%.*s\"}", i ? "," : "", ts, 1 + p[i + 1] % 40,
                         "0123456789abcdefghijklmnopqrstuvwxyzABCD");
            }
            buf_addstr(&b, "]}");
            run(a, s, NULL, NULL, NULL, buf_cstr(&b), b.len);
            break;
        case DASH_BODY:
            buf_addstr(&b, "{\"DashboardName\":\"d\",\"DashboardBody\":");
            json_quote_into(&b, p, len);
            buf_addstr(&b, "}");
            run(a, s, NULL, NULL, NULL, buf_cstr(&b), b.len);
            break;
        case EXPRESSION:
            buf_addf(&b, "{\"StartTime\":%lld,\"EndTime\":%lld,\"MetricDataQueries\":[{\"Id\":\"m1\",\"ReturnData\":"
                         "false,\"MetricStat\":{\"Period\":60,\"Stat\":\"Sum\",\"Metric\":{\"Namespace\":\"N\","
                         "\"MetricName\":\"m\"}}},{\"Id\":\"e1\",\"Expression\":",
                     NOW_MS / 1000 - 3600, NOW_MS / 1000);
            json_quote_into(&b, p, len);
            buf_addstr(&b, "}]}");
            run(a, s, NULL, NULL, NULL, buf_cstr(&b), b.len);
            break;
        }
        buf_free(&b);
    }
    /* the dumps walk everything that was stored */
    json_decref(emu_logs_dump(a, NULL));
    json_decref(emu_cw_dump(a->cw));
    emu_aws_free(a);

    /* and the query parser on its own */
    char why[200];
    json_decref(emu_query_parse((const char *)data, size, why, sizeof why));
    return 0;
}
