#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/codec.h"
#include "ctl/ctl.h"

int ctl_call(const ctl_t *ctl, Hitless__AdminRequest *req, Hitless__AdminResponse **ret) {
        char path[4096], endpoint[4200];
        void *zctx, *s;
        uint8_t *buf;
        size_t len;
        int rc, linger = 0, timeout = ctl->timeout_ms;
        struct stat st;
        zmq_msg_t msg;

        rc = ctl_admin_socket(ctl, path, sizeof path);
        if (rc != CTL_EXIT_OK)
                return rc;
        /* libzmq connects lazily and would just time out: say why now.
         * EACCES from stat() is the 0750 directory, from access() the
         * socket itself: either way a matter of who runs hitlessctl. */
        if (stat(path, &st) < 0 || access(path, W_OK) < 0) {
                int e = errno;
                fprintf(stderr, "hitlessctl: coordinator unreachable: %s: %s (%s)\n", path, strerror(e),
                        e == EACCES || e == EPERM ? "run as root or a member of the hitless group"
                                                   : "is hitless-coordinator running?");
                return CTL_EXIT_UNREACHABLE;
        }

        req->protocol_version = HITLESS_PROTOCOL_VERSION;
        if (codec_encode(&req->base, &buf, &len) < 0)
                return CTL_EXIT_FAILED;
        zctx = zmq_ctx_new();
        s = zmq_socket(zctx, ZMQ_REQ);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
        snprintf(endpoint, sizeof endpoint, "ipc://%s", path);
        rc = CTL_EXIT_UNREACHABLE;
        zmq_msg_init(&msg);
        if (zmq_connect(s, endpoint) < 0 || zmq_send(s, buf, len, 0) < 0) {
                fprintf(stderr, "hitlessctl: coordinator unreachable at %s: %s\n", path, zmq_strerror(errno));
        } else if (zmq_msg_recv(&msg, s, 0) < 0) {
                fprintf(stderr, "hitlessctl: coordinator unreachable at %s: no answer within %d ms\n",
                        path, ctl->timeout_ms);
        } else if (codec_decode_admin_response(zmq_msg_data(&msg), zmq_msg_size(&msg), SIZE_MAX, ret) < 0) {
                fprintf(stderr, "hitlessctl: the coordinator's answer is not understood (version mismatch?)\n");
                rc = CTL_EXIT_FAILED;
        } else if (ctl_escape_response(*ret, ctl->json) < 0) {
                fprintf(stderr, "hitlessctl: out of memory\n");
                hitless__admin_response__free_unpacked(*ret, NULL);
                rc = CTL_EXIT_FAILED;
        } else {
                rc = CTL_EXIT_OK;
        }
        zmq_msg_close(&msg);
        free(buf);
        zmq_close(s);
        zmq_ctx_term(zctx);
        return rc;
}

int ctl_request(const ctl_t *ctl, Hitless__AdminRequest *req, Hitless__AdminResponse__BodyCase body,
                Hitless__AdminResponse **ret) {
        Hitless__AdminResponse *resp;
        int rc = ctl_call(ctl, req, &resp);
        if (rc != CTL_EXIT_OK)
                return rc;
        rc = ctl_response_status(resp);
        if (rc == CTL_EXIT_OK && resp->body_case != body) {
                fprintf(stderr, "hitlessctl: unexpected answer from the coordinator\n");
                rc = CTL_EXIT_FAILED;
        }
        if (rc != CTL_EXIT_OK) {
                hitless__admin_response__free_unpacked(resp, NULL);
                return rc;
        }
        *ret = resp;
        return CTL_EXIT_OK;
}

int ctl_response_status(const Hitless__AdminResponse *resp) {
        switch (resp->status) {
        case HITLESS__ADMIN_STATUS__ADMIN_OK:
                return CTL_EXIT_OK;
        case HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST:
                fprintf(stderr, "hitlessctl: %s\n", resp->error);
                return CTL_EXIT_USAGE;
        default:
                fprintf(stderr, "hitlessctl: %s\n", resp->error);
                return CTL_EXIT_FAILED;
        }
}

int ctl_take_json_flag(ctl_t *ctl, int argc, char **argv) {
        int out = 0;
        for (int i = 0; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        ctl->json = true;
                else
                        argv[out++] = argv[i];
        }
        return out;
}
