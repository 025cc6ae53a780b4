#include "check.h"

int checks_failed, checks_passed;

int main(void) {
    test_p2p();
    test_payload_outq();
    test_jsonrpc();
    test_session_peer();
    test_session_http();
    test_hub();
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed ? 1 : 0;
}
