/* fuzz_state.c - brock's small state files (identity.json, profiles.json:
 * json_entries_parse) on arbitrary bytes, then what the profile cache reads
 * from an entry.
 *
 * Invariants (traps on failure):
 *   - the result is always a document whose "entries" is an object (a file
 *     of any other shape counts as empty and is replaced);
 *   - what the writer would write (json_dump_compact) reads back the same;
 *   - reading an entry's "model" and "time_ms" as the caches do is safe on
 *     any value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/bedrock/catalog.h"
#include "../src/util/json.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_entries_parse((const char *)data, size, "fuzz.json");
    CHECK(doc != NULL);
    json_t *entries = json_object_get(doc, "entries");
    CHECK(json_is_object(entries));
    const char *k;
    json_t *v;
    json_object_foreach(entries, k, v)
    {
        const char *model = json_str(v, "model");
        (void)(model ? catalog_find(model, NULL) : NULL);
        int64_t t;
        (void)json_int(v, "time_ms", &t);
    }
    char *text = json_dump_compact(doc);
    json_t *again = json_entries_parse(text, strlen(text), "again");
    CHECK(json_equal(doc, again));
    json_decref(again);
    free(text);
    json_decref(doc);
    return 0;
}
