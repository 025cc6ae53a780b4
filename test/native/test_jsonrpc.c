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
    CHECK(!parse("[1,2]", &r));
    CHECK(!parse("{\"id\":1", &r));
    CHECK(!parse("{\"id\":1}x", &r));
    CHECK(!parse("{\"id\":nul}", &r));
    CHECK(!parse("{\"id\" 1}", &r));
    CHECK(!parse("{\"a\":\"unterminated}", &r));
}
