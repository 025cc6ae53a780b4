#include <string.h>

#include "../../strategies/core/jsonrpc.h"
#include "check.h"

static bool parse(const char *s, jsonrpc_request *r) { return jsonrpc_parse(s, strlen(s), r); }

void test_jsonrpc(void) {
    jsonrpc_request r;
    CHECK(parse("{\"jsonrpc\":\"1.0\",\"id\":17,\"method\":\"getblockcount\",\"params\":[]}", &r));
    CHECK(r.id_len == 2 && !memcmp(r.id, "17", 2));
    CHECK(r.method_len == 13 && !memcmp(r.method, "getblockcount", 13));
    CHECK(parse(" { \"params\" : [1,{\"a\":[null,true]}], \"id\" : \"a\\\"b\" , \"method\":\"x\" } ", &r));
    CHECK(r.id_len == 6 && !memcmp(r.id, "\"a\\\"b\"", 6));
    CHECK(parse("{}", &r) && r.id == NULL && r.method == NULL);
    CHECK(!parse("", &r));
    CHECK(!jsonrpc_parse(NULL, 0, &r)); /* empty POST body (found by fuzz_http) */
    CHECK(!parse("[1,2]", &r));
    CHECK(!parse("{\"id\":1", &r));
    CHECK(!parse("{\"id\":1}x", &r));
    CHECK(!parse("{\"id\":nul}", &r));
    CHECK(!parse("{\"id\" 1}", &r));
    CHECK(!parse("{\"a\":\"unterminated}", &r));
    /* Numbers and escapes follow the JSON grammar: the id is echoed raw, so
     * whatever passes here must be valid JSON in the reply. */
    CHECK(parse("{\"id\":-0.5e+3}", &r) && r.id_len == 7);
    CHECK(parse("{\"id\":\"\\u00e9\\n\"}", &r));
    CHECK(!parse("{\"id\":1abc-+e}", &r));
    CHECK(!parse("{\"id\":01}", &r));
    CHECK(!parse("{\"id\":1.}", &r));
    CHECK(!parse("{\"id\":-}", &r));
    CHECK(!parse("{\"id\":tru}", &r));
    CHECK(!parse("{\"id\":\"\\x\"}", &r));
    CHECK(!parse("{\"id\":\"\\u12g4\"}", &r));
    CHECK(!jsonrpc_parse("{\"id\":1\0}", 9, &r));
}
